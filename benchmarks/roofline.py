"""The machine's limit: peak float32 matmul rate and memory bandwidth, measured here.

Every other benchmark can then say how close it gets: its record's ``flops`` entry
(XLA's cost analysis of one compiled step times the steps of a timed unit, over the
unit's median time; :func:`benchmarks._harness.flops_record`) divided by this record's
``peak.matmul_flops_per_s`` is the "fraction of peak" column of the README's table, but
only when both were measured in the same session (one ``python -m benchmarks.run``):
a peak from another day or another load says nothing about today's timings.

- **Matmul**: square float32 ``jnp.dot`` under ``jax.jit`` at the backend's default
  precision (the one the benchmarks use; TF32 on recent NVIDIA GPUs), a few sizes,
  ``repeats`` timed calls each after a warm-up; the peak is the best call over all
  sizes, ``2 n^3`` FLOPs per call. PyTorch's ``torch.matmul`` on the same arrays is the
  baseline (the ratio says whether XLA's GEMM or PyTorch's is faster here); the peak is
  the better of the two, since either is something this machine did.
- **Bandwidth**: a jitted ``x + 1`` over a large float32 array (read once, written
  once: ``2 * 4 * size`` bytes), best call; PyTorch's ``torch.add`` alongside.

Run: ``python -m benchmarks.run roofline`` (``benchmarks.run`` runs it first in every
session anyway).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import _harness

NAME = "roofline"
#: Square matmul sizes per backend: big enough that a call lasts well over the dispatch
#: cost, small enough for a few seconds per size on 2 CPU cores.
SIZES = {"cpu": (1024, 2048), "gpu": (4096, 8192), "tpu": (4096, 8192)}
#: float32 elements of the bandwidth array: 256 MiB, far beyond any CPU cache.
STREAM = {"cpu": 1 << 26, "gpu": 1 << 28, "tpu": 1 << 28}


def _torch_sync(torch: Any) -> _harness.Sync:
    if torch.cuda.is_available():
        return lambda _: torch.cuda.synchronize()
    return lambda _: None


def _torch_side(x: np.ndarray) -> tuple[Any, Any] | None:
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch, torch.from_numpy(x).to(device)


def measure_matmul(n: int, repeats: int) -> dict[str, Any]:
    """Seconds of ``repeats`` calls of an ``(n, n) @ (n, n)`` float32 matmul, jax and
    (when installed) torch, interleaved; FLOP/s of each side's best call."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    dot = jax.jit(jnp.dot)
    fns, syncs = {"jax": lambda: dot(ja, jb)}, {"jax": _harness.block}
    torch_side = _torch_side(a)
    if torch_side is not None:
        torch, ta = torch_side
        tb = torch.from_numpy(b).to(ta.device)
        fns["torch"], syncs["torch"] = (lambda: torch.matmul(ta, tb)), _torch_sync(torch)
    times = _harness.time_interleaved(fns, warmup=1, repeats=repeats, sync=syncs)
    cost = _harness.step_cost(dot, ja, jb)
    flops = 2.0 * n**3
    return {
        "n": n,
        "flops_per_call": flops,
        "xla_cost_analysis_flops": cost["flops"],
        "seconds": times,
        "flops_per_s": {side: flops / min(t) for side, t in times.items()},
    }


def measure_bandwidth(size: int, repeats: int) -> dict[str, Any]:
    """Bytes per second of an elementwise ``x + 1`` over ``size`` float32 values (each
    read once and written once), jax and (when installed) torch, best call."""
    x = np.ones(size, dtype=np.float32)
    jx = jnp.asarray(x)
    add = jax.jit(lambda v: v + 1.0)
    fns, syncs = {"jax": lambda: add(jx)}, {"jax": _harness.block}
    torch_side = _torch_side(x)
    if torch_side is not None:
        torch, tx = torch_side
        fns["torch"], syncs["torch"] = (lambda: torch.add(tx, 1.0)), _torch_sync(torch)
    times = _harness.time_interleaved(fns, warmup=1, repeats=repeats, sync=syncs)
    moved = 2.0 * 4 * size
    return {
        "elements": size,
        "bytes_per_call": moved,
        "xla_cost_analysis_bytes": _harness.step_cost(add, jx)["bytes_accessed"],
        "seconds": times,
        "bytes_per_s": {side: moved / min(t) for side, t in times.items()},
    }


def run(*, repeats: int = 5, quick: bool = False, **_: Any) -> dict[str, Any]:
    load_before = list(os.getloadavg())
    _harness.set_threads()
    backend = jax.default_backend()
    sizes = (256,) if quick else SIZES.get(backend, SIZES["cpu"])
    stream = 1 << 20 if quick else STREAM.get(backend, STREAM["cpu"])
    repeats = 2 if quick else repeats
    with _harness.OtherLoad() as other:
        matmuls = [measure_matmul(n, repeats) for n in sizes]
        bandwidth = measure_bandwidth(stream, repeats)
    best = {
        side: max(m["flops_per_s"][side] for m in matmuls) for side in matmuls[0]["flops_per_s"]
    }
    peak = max(best.values())
    best_jax = max(matmuls, key=lambda m: m["flops_per_s"]["jax"])
    extra = {
        "peak": {
            "matmul_flops_per_s": peak,
            "matmul_flops_per_s_by_side": best,
            "bandwidth_bytes_per_s": max(bandwidth["bytes_per_s"].values()),
            "bandwidth_bytes_per_s_by_side": bandwidth["bytes_per_s"],
            "dtype": "float32",
            "precision": "default",
        },
        # The jax matmul's own achieved rate, so that this row's fraction is jax's share.
        "flops": _harness.flops_record(
            {"flops": best_jax["flops_per_call"]}, 1, min(best_jax["seconds"]["jax"])
        ),
        "matmul": matmuls,
        "bandwidth": bandwidth,
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
    }
    return _harness.result_record(
        NAME,
        "peak float32 matmul FLOP/s (jitted jnp.dot, best call; baseline torch.matmul)",
        best["jax"],
        best.get("torch", best["jax"]),
        "FLOP/s",
        extra,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
