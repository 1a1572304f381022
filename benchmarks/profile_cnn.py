"""Where one training step of the Fashion-MNIST CNN spends its time, jaxdl vs PyTorch.

Not a ratio benchmark: a profile that times each part of the default recipe's CNN
(``train/fashion_mnist/configs/default.py``, :class:`jaxdl.nn.CNNClassifier`) forward and
backward in isolation, next to the same part of the PyTorch baseline
(``benchmarks.fashion_mnist_cnn.torch_model``), and then the whole train step:

- conv1 (3x3, 1 -> 32, weight gradient only: the images need no gradient, so neither side
  computes one in training), BatchNorm + ReLU at 28x28x32, max-pool 28 -> 14, conv2
  (3x3, 32 -> 64), BatchNorm + ReLU at 14x14x64, max-pool 14 -> 7, and the classifier
  (flatten, dropout, dense 3136 -> 128, ReLU, dropout, head 128 -> 10): forward, then the
  gradients w.r.t. the part's input and parameters for a fixed random cotangent of its
  output (BatchNorm in training mode, updating its running statistics; dropout active);
- the optimiser update: the recipe's AdamW over the whole parameter tree
  (``TrainState.apply_gradients``) against ``torch.optim.AdamW.step()``;
- the whole train step: ``make_chunk`` with the recipe's loss, exactly as
  ``benchmarks/_fashion_mnist.py`` runs it, against the baseline's DataLoader loop, on
  random uint8 images (the values do not change the work).

jaxdl parts are the recipe model's own modules, jitted and run ``S`` steps inside one
``lax.scan`` (as training runs them); torch parts are the baseline model's own layers in a
Python loop of ``S`` steps. Each jaxdl step's input is ``x + 1e-6 * dx`` with the previous
step's input gradient (conv1's image input moves by ``1e-6`` times a carried scalar
instead) and the parameters move by ``1e-6`` times their gradient, so XLA cannot hoist any
of the work out of the loop; the extra elementwise pass over the input is charged to
jaxdl (torch pays none). One element of the output rides along in the carry, into the
parameter update, so the forward is not dead code. ``S`` is 10, or more for parts fast
enough that one jaxdl scan of 10 steps would take under 0.5 s (``conv_layer.MIN_CALL_S``:
a fixed per-call cost would skew them). Per-step time is the median over repeats of one
scan (or loop) divided by ``S``, the two sides interleaved part by part.

Run: ``python -m benchmarks.profile_cnn [--batch 128] [--batch 1024] [--no-readme]``;
it prints one table per batch and writes them into ``benchmarks/README.md`` between the
profile markers (a batch not rerun keeps its old table).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx
from jax import lax

from benchmarks import _fashion_mnist, _harness, conv_layer, fashion_mnist_cnn
from jaxdl.nn import max_pool
from jaxdl.nn._dropout import split_key
from jaxdl.training import TrainState
from train.fashion_mnist import train as recipe
from train.fashion_mnist.configs import default

BATCHES = (128, 1024)
STEPS = 10
REPEATS = 5
START, END = "<!-- profile:start -->", "<!-- profile:end -->"
HEADING = "## Profile of one CNN training step"
# Above this many cores used by other processes while timing, the table is flagged.
BUSY_CORES = 0.2
# How far each step moves the parameters along their gradient: enough to make every step
# depend on the last, too little to change the values (and so the work) meaningfully.
EPS = 1e-6
SUM_OF_PARTS = "sum of the parts above"
WHOLE_STEP = "whole train step"

Apply = Callable[[Any, Any, jax.Array, jax.Array], tuple[jax.Array, Any]]
Pair = tuple[Callable[[], Any], Callable[[], Any]]


@dataclasses.dataclass
class Part:
    """One row of the profile and how to build its two sides for a given scan length.

    ``build(steps)`` returns the jaxdl and torch no-argument callables that each run
    ``steps`` steps (the jaxdl side compiled when built, or on its first call).
    """

    name: str
    build: Callable[[int], Pair]


class _Classifier(nnx.Module):
    """The CNN's layers after its conv blocks, called as ``CNNClassifier.__call__`` does."""

    def __init__(self, model: Any):
        self.dropout, self.fcs, self.head = model.dropout, model.fcs, model.head

    def __call__(self, x: jax.Array, key: jax.Array) -> jax.Array:
        keys = split_key(key, len(self.fcs) + 1)
        x = self.dropout(x.reshape(x.shape[0], -1), train=True, key=keys[0])
        for fc, k in zip(self.fcs, keys[1:], strict=True):
            x = self.dropout(jax.nn.relu(fc(x)), train=True, key=k)
        return self.head(x)


def _module_apply(module: nnx.Module, call: Callable[[Any, jax.Array, jax.Array], jax.Array]):
    """``(apply, params, rest)`` for a pure ``apply(params, rest, x, key) -> (y, new_rest)``.

    ``rest`` is every non-parameter variable (BatchNorm statistics); merging with
    ``copy=True`` lets BatchNorm update it inside the trace, as ``train_step`` does.
    """
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)

    def apply(params: Any, rest: Any, x: jax.Array, key: jax.Array) -> tuple[jax.Array, Any]:
        m = nnx.merge(graphdef, params, rest, copy=True)
        return call(m, x, key), nnx.state(m, nnx.Not(nnx.Param))

    return apply, params, rest


def _pool_apply(params: Any, rest: Any, x: jax.Array, key: jax.Array) -> tuple[jax.Array, Any]:
    del params, key
    return max_pool(x, (2, 2)), rest


def jax_part(
    apply: Apply,
    params: Any,
    rest: Any,
    x: np.ndarray,
    g: np.ndarray,
    *,
    steps: int,
    input_grad: bool = True,
) -> Callable[[], Any]:
    """``steps`` forward+backward steps of ``apply`` in one compiled ``lax.scan``.

    With ``input_grad`` each step's input is ``x + 1e-6 * dx`` with the previous step's
    input gradient; without it (conv1, whose input is the image) ``x`` moves by ``1e-6``
    times the carried output element instead. The parameters move by ``1e-6`` times
    (gradient + that element). Compiled ahead of time, under the convolution policy in force.
    """
    x, g = jnp.asarray(x), jnp.asarray(g)
    key = jax.random.key(0)

    def run(params: Any, rest: Any, x0: jax.Array, g: jax.Array, key: jax.Array) -> Any:
        def body(carry: tuple[Any, ...], i: jax.Array) -> tuple[tuple[Any, ...], None]:
            params, rest, dx, c = carry
            k = jax.random.fold_in(key, i)
            if input_grad:
                y, vjp, rest = jax.vjp(
                    lambda p, xx: apply(p, rest, xx, k), params, x0 + EPS * dx, has_aux=True
                )
                grads, dx = vjp(g)
            else:
                y, vjp, rest = jax.vjp(
                    lambda p: apply(p, rest, x0 + EPS * c, k), params, has_aux=True
                )
                (grads,) = vjp(g)
            params = jax.tree.map(lambda p, d: p - EPS * (d + c), params, grads)
            # One output element keeps the forward alive where the backward does not read
            # it (conv, dense); slicing it does not shrink the op that produces it.
            return (params, rest, dx, y.reshape(-1)[0]), None

        dx = jnp.zeros_like(x0) if input_grad else jnp.zeros((), x0.dtype)
        init = (params, rest, dx, jnp.zeros((), x0.dtype))
        return lax.scan(body, init, jnp.arange(steps))[0]

    compiled = jax.jit(run).lower(params, rest, x, g, key).compile()
    return lambda: compiled(params, rest, x, g, key)


def torch_part(module: Any, x: Any, g: Any, *, steps: int, input_grad: bool = True):
    """``steps`` eager forward+backward steps of ``module`` (in training mode)."""
    module.train()
    x = x.clone().requires_grad_(input_grad)

    def run() -> Any:
        for _ in range(steps):
            # As zero_grad(set_to_none=True): backward writes fresh gradients.
            module.zero_grad(set_to_none=True)
            x.grad = None
            module(x).backward(g)
        return x.grad

    return run


def _layer_pair(jax_args: tuple, torch_args: tuple, input_grad: bool, steps: int) -> Pair:
    """``(jax_part(*jax_args), torch_part(*torch_args))`` for ``steps`` steps."""
    return (
        jax_part(*jax_args, steps=steps, input_grad=input_grad),
        torch_part(*torch_args, steps=steps, input_grad=input_grad),
    )


def _check_default_cnn(config: ml_collections.ConfigDict) -> None:
    """The part list below is the default CNN's; refuse other architectures."""
    shape = (config.model, tuple(config.channels), config.block_depth, tuple(config.hidden))
    if shape != ("cnn", (32, 64), 1, (128,)):
        raise ValueError(
            f"config describes (model, channels, block_depth, hidden) = {shape}, expected "
            "('cnn', (32, 64), 1, (128,)): the profile's parts are the default CNN's."
        )


def _torch_layers(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The baseline model's layers, grouped as the profile's parts."""
    from torch import nn

    layers = list(fashion_mnist_cnn.torch_model(config))
    expected = [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d] * 2 + [nn.Flatten]
    if [type(m) for m in layers[:9]] != expected:
        raise AssertionError(
            f"the baseline starts {[type(m).__name__ for m in layers[:9]]}, expected "
            f"{[t.__name__ for t in expected]}; update the profile's parts."
        )
    return {
        "conv1": layers[0],
        "bn1": nn.Sequential(*layers[1:3]),
        "pool1": layers[3],
        "conv2": layers[4],
        "bn2": nn.Sequential(*layers[5:7]),
        "pool2": layers[7],
        "classifier": nn.Sequential(*layers[8:]),
    }


def build_parts(config: ml_collections.ConfigDict, batch: int, *, seed: int = 0) -> list[Part]:
    """Every part of one CNN training step, both sides, ready to build and time.

    The jaxdl convolutions are ``config.conv_impl``'s, fixed in the model ``build_model``
    returns.
    """
    import torch

    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    def nchw(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    model = recipe.build_model(config, key=jax.random.key(config.seed))
    (b1, b2), classifier = model.blocks, _Classifier(model)
    th = _torch_layers(config)

    def conv(m: Any, x: jax.Array, key: jax.Array) -> jax.Array:
        return m(x)

    def bn_relu(m: Any, x: jax.Array, key: jax.Array) -> jax.Array:
        return jax.nn.relu(m(x, use_running_average=False))

    def head(m: Any, x: jax.Array, key: jax.Array) -> jax.Array:
        return m(x, key)

    # (name, jaxdl apply/params/rest, torch module, input NHWC shape, output shape, input grad)
    # fmt: off
    specs = [
        ("conv1 3x3 1->32, 28x28 (weight grad only)", _module_apply(b1.convs[0], conv),
         th["conv1"], (batch, 28, 28, 1), (batch, 28, 28, 32), False),
        ("BatchNorm + ReLU, 28x28x32", _module_apply(b1.norms[0].layer, bn_relu),
         th["bn1"], (batch, 28, 28, 32), (batch, 28, 28, 32), True),
        ("max-pool 28->14", (_pool_apply, {}, {}),
         th["pool1"], (batch, 28, 28, 32), (batch, 14, 14, 32), True),
        ("conv2 3x3 32->64, 14x14", _module_apply(b2.convs[0], conv),
         th["conv2"], (batch, 14, 14, 32), (batch, 14, 14, 64), True),
        ("BatchNorm + ReLU, 14x14x64", _module_apply(b2.norms[0].layer, bn_relu),
         th["bn2"], (batch, 14, 14, 64), (batch, 14, 14, 64), True),
        ("max-pool 14->7", (_pool_apply, {}, {}),
         th["pool2"], (batch, 14, 14, 64), (batch, 7, 7, 64), True),
        ("dense 3136->128 + head (dropout, ReLU)", _module_apply(classifier, head),
         th["classifier"], (batch, 7, 7, 64), (batch, 10), True),
    ]
    # fmt: on
    parts = []
    for name, (apply, params, rest), module, x_shape, g_shape, input_grad in specs:
        x, g = normal(*x_shape), normal(*g_shape)
        tg = nchw(g) if g.ndim == 4 else torch.from_numpy(g)
        jax_args, torch_args = (apply, params, rest, x, g), (module, nchw(x), tg)
        parts.append(Part(name, functools.partial(_layer_pair, jax_args, torch_args, input_grad)))
    parts.append(_optimizer_part(config, rng=rng))
    parts.append(_whole_step(config, batch, rng=rng))
    return parts


def _optimizer_part(config: ml_collections.ConfigDict, *, rng: np.random.Generator) -> Part:
    """The recipe's optimiser update over the whole parameter tree, with fixed gradients.

    The state (parameters, moments, step) changes every step; the gradients also move
    by ``1e-6`` times the parameters so nothing of the update is loop-invariant.
    """
    import torch

    # The schedule's length does not change the work per update.
    tx = recipe.build_optimizer(config, 60_000 // config.batch_size)
    state = TrainState.create(
        recipe.build_model(config, key=jax.random.key(config.seed)),
        tx,
        key=jax.random.key(0),
    )
    grads = jax.tree.map(
        lambda p: jnp.asarray(rng.standard_normal(p.shape).astype(p.dtype)), state.params
    )

    model = fashion_mnist_cnn.torch_model(config)
    optimizer = _fashion_mnist._torch_optimizer(config, model.parameters())
    for p in model.parameters():
        p.grad = torch.randn_like(p)

    def build(steps: int) -> Pair:
        def run(state: TrainState, grads: Any) -> TrainState:
            def body(state: TrainState, _: None) -> tuple[TrainState, None]:
                moved = jax.tree.map(lambda d, p: d + EPS * p, grads, state.params)
                return state.apply_gradients(moved, state.model_state), None

            return lax.scan(body, state, None, length=steps)[0]

        compiled = jax.jit(run).lower(state, grads).compile()

        def torch_run() -> None:
            for _ in range(steps):
                optimizer.step()

        return (lambda: compiled(state, grads)), torch_run

    return Part(f"{config.optimizer} update (all parameters)", build)


def _whole_step(config: ml_collections.ConfigDict, batch: int, *, rng: np.random.Generator) -> Part:
    """One epoch of ``steps`` batches on each side, as ``benchmarks/_fashion_mnist.py`` runs it.

    The jaxdl epoch compiles on its first call (the warm-up).
    """

    def build(steps: int) -> Pair:
        n = steps * batch
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.int32)
        jx = _fashion_mnist.JaxdlSide(config, images, labels)
        th = _fashion_mnist.TorchSide(
            fashion_mnist_cnn.torch_model(config), config, images, labels, progress=False
        )
        if jx.num_params != th.num_params:
            raise AssertionError(
                f"jaxdl has {jx.num_params} parameters and the torch baseline {th.num_params}."
            )
        return jx.epoch, th.epoch

    return Part(WHOLE_STEP, build)


def calibrated(part: Part, steps: int, min_call_s: float) -> tuple[int, Pair]:
    """``(S, part.build(S))`` with S from ``conv_layer.steps_for`` on a timed jaxdl call.

    Short calls are skewed by a fixed per-call cost (see ``conv_layer.MIN_CALL_S``), so
    parts faster than ``min_call_s / steps`` per step get a longer scan.
    """
    pair = part.build(steps)
    if min_call_s <= 0:
        return steps, pair
    per_step = min(_harness.time_fn(pair[0], warmup=1, repeats=2)) / steps
    s = conv_layer.steps_for(per_step, steps, min_call_s)
    return (s, pair) if s == steps else (s, part.build(s))


def profile(
    batch: int,
    *,
    steps: int = STEPS,
    repeats: int = REPEATS,
    min_call_s: float = conv_layer.MIN_CALL_S,
    config: ml_collections.ConfigDict | None = None,
) -> dict[str, Any]:
    """Times every part at ``batch``; returns the rows (ms per step) and where/when.

    Each part runs ``steps`` steps per call, or more where one jaxdl call would take less
    than ``min_call_s`` (0: always ``steps``); the row records its ``steps``.
    """
    import torch

    config = ml_collections.ConfigDict((config or default.get_config()).to_dict())
    config.batch_size = batch
    _check_default_cnn(config)
    _harness.set_threads()
    torch.manual_seed(config.seed)
    impl = config.get("conv_impl", "auto")
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    rows = []
    with _harness.OtherLoad() as other:
        for part in build_parts(config, batch):
            n, (jaxdl_fn, torch_fn) = calibrated(part, steps, min_call_s)
            times = _harness.time_interleaved(
                {"jaxdl": jaxdl_fn, "torch": torch_fn}, warmup=1, repeats=repeats
            )
            jaxdl_ms = 1e3 * _harness.median(times["jaxdl"]) / n
            torch_ms = 1e3 * _harness.median(times["torch"]) / n
            rows.append({"part": part.name, "jaxdl_ms": jaxdl_ms, "torch_ms": torch_ms, "steps": n})
            print(f"  batch {batch}: {part.name}: {jaxdl_ms:.3f} / {torch_ms:.3f} ms", flush=True)
    parts = [r for r in rows if r["part"] != WHOLE_STEP]
    rows.insert(
        len(parts),
        {
            "part": SUM_OF_PARTS,
            "jaxdl_ms": sum(r["jaxdl_ms"] for r in parts),
            "torch_ms": sum(r["torch_ms"] for r in parts),
        },
    )
    for r in rows:
        r["ratio"] = _harness.speed_ratio(r["jaxdl_ms"], r["torch_ms"], higher_is_better=False)
    return {
        "batch": batch,
        "min_steps": steps,
        "min_call_s": min_call_s,
        "repeats": repeats,
        "conv_impl": impl,
        "rows": rows,
        "machine": _harness.machine_info(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": _harness.versions(),
        "threads": _harness.thread_counts(),
        "load_average_before": load_before,
        "other_cpu_load": other.cores,
    }


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The Markdown table: part | jaxdl ms | torch ms | torch/jaxdl."""
    lines = ["| part | jaxdl ms | torch ms | torch/jaxdl |", "|---|---:|---:|---:|"]
    for r in rows:
        name = f"**{r['part']}**" if r["part"] == WHOLE_STEP else r["part"]
        cells = [name, f"{r['jaxdl_ms']:.2f}", f"{r['torch_ms']:.2f}", f"{r['ratio']:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(result: Mapping[str, Any]) -> str:
    """One batch's README section: heading, where and how it was measured, the table."""
    m, v, t = result["machine"], result["versions"], result["threads"]
    other = result["other_cpu_load"]
    load = "unknown" if other is None else f"{other:.2f}"
    steps = sorted({r["steps"] for r in result["rows"] if "steps" in r})
    span = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]} to {steps[-1]}"
    lines = [
        f"### Batch {result['batch']}",
        "",
        f"{m['processor']}, {m['cpu_count']} CPUs ({m['backend']}), {result['date'][:10]}; "
        f"jax {v['jax']}, torch {v['torch']}, threads jax {t['jax']} / torch "
        f"{t.get('torch', '?')}; convolution policy `{result['conv_impl']}`. Per step, median "
        f"of {result['repeats']} scans (loops) of {span} steps (more steps for faster parts, "
        f"so that one jaxdl scan takes at least {result['min_call_s']:g} s); other processes "
        f"used {load} cores while timing.",
        "",
        table(result["rows"]),
    ]
    if other is not None and other > BUSY_CORES:
        lines += [
            "",
            f"Other processes used more than {BUSY_CORES} cores: rerun on an idle machine.",
        ]
    return "\n".join(lines)


def update_readme(
    results: Sequence[Mapping[str, Any]], readme: str | Path = _harness.README
) -> str:
    """Writes each result's section between the profile markers; others already there stay.

    Sections are keyed by batch size and kept in increasing order, so profiling one batch
    does not erase another's table.
    """
    readme = Path(readme)
    text, start, end = _harness.read_marked(readme, START, END, f"under '{HEADING}'")
    sections: dict[int, str] = {}
    for chunk in re.split(r"(?m)^(?=### Batch \d+)", text[start + len(START) : end]):
        found = re.match(r"### Batch (\d+)", chunk)
        if found:
            sections[int(found.group(1))] = chunk.strip()
    sections.update({r["batch"]: render(r) for r in results})
    body = "\n\n".join(sections[b] for b in sorted(sections))
    readme.write_text(
        text[: start + len(START)] + "\n" + body + "\n" + text[end:], encoding="utf-8"
    )
    return body


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_cnn", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--batch", type=int, action="append", help=f"batch size, repeatable (default {BATCHES})"
    )
    parser.add_argument("--steps", type=int, default=STEPS, help="scan length S")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed scans per part")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    parser.add_argument("--readme", type=Path, default=_harness.README)
    args = parser.parse_args(argv)

    results = []
    for batch in args.batch or BATCHES:
        results.append(profile(batch, steps=args.steps, repeats=args.repeats))
        print("\n" + render(results[-1]) + "\n", flush=True)
    if not args.no_readme:
        update_readme(results, args.readme)
        print(f"updated {args.readme}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
