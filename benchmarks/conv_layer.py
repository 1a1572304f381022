"""One convolution layer, jaxdl's fast path against ``torch.nn.functional.conv2d``.

The Fashion-MNIST CNN's speed rests on its two 3x3 convolutions, so this pair times them
alone, at the recipe's shapes: ``(B, 28, 28, 1) -> 32`` and ``(B, 14, 14, 32) -> 64``
(3x3, SAME, stride 1) for ``B`` in 128 and 1024, plus one stride-2 shape
``(128, 28, 28, 32) -> 64`` that the fast path also covers. Each shape has two metrics:

- ``forward``: the convolution alone;
- ``forward+backward``: the convolution and the gradients of ``sum(out * g)`` with respect
  to input and weight, for a fixed random cotangent ``g`` (what ``out.backward(g)`` does).

jaxdl side: :func:`jaxdl.ops.conv_general_dilated` with ``impl="fast"``, jitted,
and timed inside a ``lax.scan`` of ``S`` steps, because that is how training runs it (and
where XLA's own weight gradient is slow on CPU). Each step's operands depend on the
previous step (``x + 1e-6 * dx`` and ``w + 1e-6 * dw``; the forward moves only ``w``), so
XLA cannot hoist the work out of the loop; the extra elementwise pass is charged to jaxdl.
XLA's own convolution (``impl="xla"``) is timed in the same scan for reference only:
a 2-step probe first, then, if its warm-up and repeats fit in ``XLA_BUDGET_S``, the same
interleaved protocol as the two sides; where it is slow (about 11 s per step for the
weight gradient at batch 1024) the probe, a 2-step scan timed once (or, when a call takes
under a second, twice after a warm-up call), is the answer, as each row records
(``xla_steps``, ``xla_repeats``).

PyTorch side: NCHW tensors and ``F.conv2d`` in a Python loop of ``S`` steps, the forward
under ``torch.no_grad()``, the backward as ``out.backward(g)`` with ``requires_grad`` on
input and weight (gradients reset to None each step, as ``zero_grad`` does). Torch pads
symmetrically (``padding=1``); for the stride-2 shape SAME pads ``(0, 1)`` instead, which
changes which pixels are read but not the output shape or the work. Before timing, both
sides are checked to compute the same outputs and gradients on a batch of 2 (with the
exact SAME padding on the torch side).

``S`` is 10, or more where one jaxdl scan of 10 steps would take under 0.5 s (a fixed
per-call cost would otherwise skew the small shapes; see ``MIN_CALL_S``); jaxdl, XLA and
torch use the same ``S`` in a row. Per-step time is the median over repeats of one scan
(or loop) divided by ``S``; the row
``ratio`` is torch time / jaxdl time (above 1: jaxdl faster). The headline is the
geometric mean of that ratio for ``forward+backward`` over the recipe's stride-1 shapes,
i.e. the geometric mean of torch times over that of jaxdl times.

Run: ``python -m benchmarks.run conv_layer`` (or ``python -m benchmarks.conv_layer``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from benchmarks import _flops, _harness
from benchmarks._conv_pair import (  # noqa: F401  (RTOL, Shape: the module's API)
    BACKWARD,
    FORWARD,
    METRICS,
    RECIPE_SHAPES,
    RTOL,
    STRIDE2,
    Operands,
    Shape,
    cases,
    check_against_torch,
    conv_fn,
    torch_loop,
)

NAME = "conv_layer"
METRIC = "3x3 conv forward+backward time per step (geometric mean of the recipe shapes)"
UNIT = "ms/step"
BATCHES = (128, 1024)
STRIDE2_BATCH = 128
STEPS = 10
REPEATS = 5
# The shortest jaxdl scan (seconds) a row is timed with: S grows past STEPS until one scan
# takes this long. A fixed cost per call lands on whichever side runs right after torch
# (plausibly torch's OpenMP threads still spinning when its loop returns, on 2 cores): for
# (128, 28, 28, 1) -> 32 forward at S=10 the same compiled scan read 1.25 ms per step right
# after torch and 0.54 ms in the other slot; at S=400 both read 0.50 ms.
MIN_CALL_S = 0.5
MAX_STEPS = 2000
# An XLA reference whose full timing (warm-up + repeats scans of STEPS) would take longer
# than this keeps its 2-step probe instead: XLA's weight gradient in scan can take ~11 s
# per step, and it is a reference, not the measured pair.
XLA_BUDGET_S = 15.0
XLA_PROBE_STEPS = 2
XLA_PROBE_REPEAT_S = 1.0
# quick=True: exercises every code path in seconds; writes nothing.
QUICK = {"batch": 8, "steps": 2, "repeats": 1}


def jax_scan(shape: Shape, metric: str, steps: int, impl: str) -> Callable[..., Any]:
    """``f(x, w, g)`` running ``steps`` steps of ``metric`` in one ``lax.scan`` (not jitted),
    with the convolution ``impl`` (``"fast"`` or ``"xla"``).

    Every step depends on the previous one, or XLA would compute the loop-invariant work
    once. Forward: the weight moves by ``1e-6`` times an output element of the previous
    step (moving ``x`` instead would add a pass over the input: 55 against 51 ms per step
    for ``(1024, 14, 14, 32) -> 64``). Forward+backward: the input is ``x + 1e-6 * dx``
    and the weight ``w + 1e-6 * (dw + c)`` with the previous step's gradients, so neither
    gradient can be hoisted (the input gradient is a convolution of ``g`` with ``w``); the
    extra pass over ``x`` is charged to jaxdl. ``c``, one output element, keeps the forward
    from being dead code (the fast path's backward does not read the output); slicing one
    element does not shrink the convolution, XLA keeps the full-size op in the loop.
    """
    conv = conv_fn(shape, impl)

    def forward(x: jax.Array, w: jax.Array, g: jax.Array) -> jax.Array:
        del g

        def body(c: jax.Array, _: None) -> tuple[jax.Array, None]:
            return conv(x, w + 1e-6 * c)[0, 0, 0, 0], None

        return lax.scan(body, jnp.zeros((), x.dtype), None, length=steps)[0]

    def backward(x: jax.Array, w: jax.Array, g: jax.Array) -> tuple[jax.Array, ...]:
        def body(carry: tuple[jax.Array, ...], _: None) -> tuple[tuple[jax.Array, ...], None]:
            dx, dw, c = carry
            out, vjp = jax.vjp(conv, x + 1e-6 * dx, w + 1e-6 * (dw + c))
            dx, dw = vjp(g)
            return (dx, dw, out[0, 0, 0, 0]), None

        init = (jnp.zeros_like(x), jnp.zeros_like(w), jnp.zeros((), x.dtype))
        return lax.scan(body, init, None, length=steps)[0]

    return {FORWARD: forward, BACKWARD: backward}[metric]


def compile_jax(
    shape: Shape, metric: str, steps: int, impl: str, ops: Operands
) -> Callable[[], Any]:
    """The compiled scan with convolution ``impl``, as a no-argument call.

    Compiled ahead of time, so even a call timed without warm-up excludes compilation.
    """
    args = [jnp.asarray(a) for a in (ops.x, ops.w, ops.g)]
    compiled = jax.jit(jax_scan(shape, metric, steps, impl)).lower(*args).compile()
    return lambda: compiled(*args)


def steps_for(seconds_per_step: float, steps: int, min_call_s: float = MIN_CALL_S) -> int:
    """The scan length: at least ``steps``, and enough that one call lasts ``min_call_s``.

    Rounded up to a multiple of ``steps`` and capped at ``MAX_STEPS``; see ``MIN_CALL_S``.
    """
    if min_call_s <= 0 or seconds_per_step * steps >= min_call_s:
        return steps
    needed = math.ceil(min_call_s / max(seconds_per_step, 1e-9) / steps) * steps
    return max(steps, min(MAX_STEPS, needed))


def calibrate(
    shape: Shape, metric: str, ops: Operands, steps: int, min_call_s: float
) -> tuple[int, Callable[[], Any]]:
    """``(S, the compiled jaxdl scan of S steps)``, S from ``steps_for`` on a timed call."""
    call = compile_jax(shape, metric, steps, "fast", ops)
    if min_call_s <= 0:
        return steps, call
    per_step = min(_harness.time_fn(call, warmup=1, repeats=2)) / steps
    s = steps_for(per_step, steps, min_call_s)
    return (s, call) if s == steps else (s, compile_jax(shape, metric, s, "fast", ops))


def probe_xla(shape: Shape, metric: str, ops: Operands, steps: int) -> list[float]:
    """XLA's seconds per step from calls of a short (``XLA_PROBE_STEPS``) scan.

    Compiled ahead of time, so no call includes compilation. The first call alone is the
    answer when it is slow (at least ``XLA_PROBE_REPEAT_S``); otherwise it counts as the
    warm-up (a first call carries one-time costs that matter at small sizes) and two more
    are timed. The probe decides whether the full protocol fits in ``XLA_BUDGET_S`` and
    is the reference when it does not.
    """
    probe_steps = min(XLA_PROBE_STEPS, steps)
    call = compile_jax(shape, metric, probe_steps, "xla", ops)
    first = _harness.time_fn(call, warmup=0, repeats=1)
    times = first if first[0] >= XLA_PROBE_REPEAT_S else _harness.time_fn(call, warmup=0, repeats=2)
    return [t / probe_steps for t in times]


def measure(
    shape: Shape,
    batch: int,
    metric: str,
    *,
    steps: int,
    repeats: int,
    min_call_s: float = MIN_CALL_S,
) -> dict[str, Any]:
    """One table row: jaxdl (fast), XLA and torch interleaved, XLA capped by its budget.

    All three run the same number of steps per call, ``steps`` or more (``calibrate``).
    """
    ops = Operands.random(shape, batch)
    steps, jaxdl_call = calibrate(shape, metric, ops, steps, min_call_s)
    xla_probe = probe_xla(shape, metric, ops, steps)
    fns = {"jaxdl": jaxdl_call}
    # XLA joins the interleaved rounds only when its warm-up and repeats fit the budget.
    full_xla = _harness.median(xla_probe) * steps * (repeats + 1) <= XLA_BUDGET_S
    if full_xla:
        fns["xla"] = compile_jax(shape, metric, steps, "xla", ops)
    fns["torch"] = torch_loop(shape, metric, steps, ops)
    times = _harness.time_interleaved(fns, warmup=1, repeats=repeats)
    step_ms = {k: [1e3 * t / steps for t in v] for k, v in times.items()}
    if not full_xla:
        step_ms["xla"] = [1e3 * t for t in xla_probe]
    jaxdl_ms = _harness.median(step_ms["jaxdl"])
    torch_ms = _harness.median(step_ms["torch"])
    # One step of the timed scan (its body once: a scan of length 1), as jaxdl runs it.
    args = [jnp.asarray(a) for a in (ops.x, ops.w, ops.g)]
    cost = _flops.program_cost(jax_scan(shape, metric, 1, "fast"), *args)
    return {
        "shape": shape.label(batch),
        "batch": batch,
        "metric": metric,
        "jaxdl_ms": jaxdl_ms,
        "xla_ms": _harness.median(step_ms["xla"]),
        "torch_ms": torch_ms,
        "ratio": _harness.speed_ratio(jaxdl_ms, torch_ms, higher_is_better=False),
        "recipe": shape.recipe,
        "stride": shape.stride,
        "steps": steps,
        "repeats": repeats,
        "xla_steps": steps if full_xla else min(XLA_PROBE_STEPS, steps),
        "xla_repeats": repeats if full_xla else len(xla_probe),
        "step_ms": step_ms,
        "flops": _flops.program_record(cost, jaxdl_ms / 1e3),
    }


def geomean(values: Sequence[float]) -> float:
    """The geometric mean of positive ``values``."""
    if not values or min(values) <= 0:
        raise ValueError(f"values is {list(values)}, expected a non-empty list of positives.")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summary(rows: Sequence[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Geometric means of one metric over the recipe rows (jaxdl, torch, XLA, ratios)."""
    chosen = [r for r in rows if r["recipe"] and r["metric"] == metric]
    jaxdl = geomean([r["jaxdl_ms"] for r in chosen])
    torch_ms = geomean([r["torch_ms"] for r in chosen])
    xla = geomean([r["xla_ms"] for r in chosen])
    # Geometric means of FLOPs per step and of time per step: their quotient is the
    # geometric mean of the rows' FLOP/s, the rate that matches the geometric-mean time.
    cost = {
        "flops": geomean([r["flops"]["per_step"] for r in chosen]),
        "bytes_accessed": geomean([r["flops"]["bytes_per_step"] for r in chosen]),
    }
    flops = _harness.flops_record(cost, 1, jaxdl / 1e3)
    flops["source"] = "geometric mean over the recipe shapes of the rows' FLOPs per step"
    return {
        "shapes": [r["shape"] for r in chosen],
        "flops": flops,
        "jaxdl_ms": jaxdl,
        "torch_ms": torch_ms,
        "xla_ms": xla,
        # Equal to the geometric mean of the per-row ratios.
        "ratio": torch_ms / jaxdl,
        "xla_over_jaxdl": xla / jaxdl,
    }


def run(
    *,
    batch_size: int | None = None,
    repeats: int = REPEATS,
    steps: int = STEPS,
    min_call_s: float = MIN_CALL_S,
    quick: bool = False,
    train_examples: int | None = None,
) -> dict[str, Any]:
    """Times every shape and metric and returns the result record (writes nothing).

    Args:
      batch_size: one batch for every shape instead of 128 and 1024 (and 128 for the
        stride-2 shape).
      repeats: timed scans per side (the XLA reference may get fewer, see ``measure``).
      steps: the shortest scan length ``S``; rows whose scan would take less than
        ``min_call_s`` get a longer one (``steps_for``), recorded per row.
      min_call_s: 0 keeps ``S = steps`` everywhere.
      quick: batch 8, 2 steps, 1 repeat, no calibration.
      train_examples: accepted for ``benchmarks.run``'s common options; there is no
        dataset here, so it is ignored.
    """
    del train_examples
    import torch

    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if quick:
        batch_size, steps, repeats = QUICK["batch"], QUICK["steps"], QUICK["repeats"]
        min_call_s = 0.0
    batches = BATCHES if batch_size is None else (batch_size,)
    stride2_batch = STRIDE2_BATCH if batch_size is None else batch_size
    _harness.set_threads()
    torch.manual_seed(0)

    agreement = {s.label(2): check_against_torch(s) for s in (*RECIPE_SHAPES, STRIDE2)}
    rows = []
    with _harness.OtherLoad() as other:
        for shape, batch in cases(batches, stride2_batch):
            for metric in METRICS:
                rows.append(
                    measure(
                        shape, batch, metric, steps=steps, repeats=repeats, min_call_s=min_call_s
                    )
                )
                r = rows[-1]
                print(
                    f"  {r['shape']:48s} {metric:16s} jaxdl {r['jaxdl_ms']:9.3f} ms  "
                    f"xla {r['xla_ms']:10.3f} ms  torch {r['torch_ms']:9.3f} ms  "
                    f"ratio {r['ratio']:.2f}",
                    flush=True,
                )
    headline = summary(rows, BACKWARD)
    extra = {
        "batch_size": ", ".join(str(b) for b in dict.fromkeys((*batches, stride2_batch))),
        "min_steps": steps,
        "min_call_s": min_call_s,
        "repeats": repeats,
        "shapes": rows,
        "geometric_mean": {metric: summary(rows, metric) for metric in METRICS},
        "xla_budget_s": XLA_BUDGET_S,
        "sanity": {"relative_max_difference_vs_torch": agreement},
        "quick": quick,
        "load_average_before": load_before,
        # Cores used by other processes while timing: near 0 for a clean run.
        "other_cpu_load": other.cores,
    }
    extra["flops"] = headline["flops"]
    record = _harness.result_record(
        NAME,
        METRIC,
        headline["jaxdl_ms"],
        headline["torch_ms"],
        UNIT,
        extra,
        higher_is_better=False,
    )
    # A run at one chosen batch is kept beside the default run instead of replacing it.
    record["result_file"] = NAME if batch_size is None else f"{NAME}_b{batch_size}"
    return record


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
