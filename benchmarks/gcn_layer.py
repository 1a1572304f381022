"""One GCN layer on a 10k-node radius graph: jaxdl against the PyTorch ways of writing it.

Graph: ``NUM_NODES`` points uniform in the unit square, edges between points closer than
the cutoff that gives ``MEAN_DEGREE`` neighbours on average, self-loops included, as the
seed's ``compute_edges`` builds them (``d(i, i) = 0 <= cutoff``). Node features are
``(N, FEATURES)`` standard normal; the layer maps ``FEATURES -> FEATURES``, no activation.

Timed unit: ``STEPS`` calls of forward + backward, i.e. the layer's output and the
gradients of ``sum(out * g)`` (a fixed random cotangent ``g``) with respect to the input
features and the weights. Every side recomputes the degree normalisation inside each call,
as the seed's layer and torch_geometric's ``GCNConv(cached=False)`` do.

- jaxdl: :class:`jaxdl.graph.GCNConv` (with bias) under ``jax.jit``, ``jax.vjp``; the
  graph is a ``GraphsTuple`` of device arrays passed as an argument.
- baseline (the ratio): the seed's ``GraphConv`` with its bugs fixed, scatter-add by
  ``index_add_`` (``benchmarks/_torch_gcn.py``, no bias: the seed has none), eager torch,
  ``out.backward(g)``.
- torch_geometric ``GCNConv`` (with bias), eager, ``out.backward(g)``; its ratio is
  recorded as ``ratio_vs_torch_geometric``.

For reference only, both torch sides are also timed with ``torch.set_num_threads(1)``
(``reference_ratios_torch_1_thread``): on a busy machine two torch threads can be many
times slower than one, which says more about the load than about the code.

Before timing, the three sides are checked to compute the same outputs and gradients on
the benchmark graph (relative max difference). Sides are interleaved unit by unit after
one warm-up unit; the per-call time is the median unit time over ``STEPS``.

Run: ``python -m benchmarks.run gcn_layer`` (or ``python -m benchmarks.gcn_layer``).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks import _harness
from jaxdl.data.graphs import cutoff_for_degree, radius_graph

NAME = "gcn_layer"
METRIC = "GCN layer forward+backward time per call, 10k-node 2-D radius graph"
UNIT = "ms/call"
NUM_NODES = 10_000
MEAN_DEGREE = 10.0
FEATURES = 32
STEPS = 20
REPEATS = 7
QUICK = {"num_nodes": 500, "steps": 2, "repeats": 1}
# Agreement tolerance (relative to the largest magnitude): float32 sums of ~10 terms.
RTOL = 1e-4


def make_problem(num_nodes: int, features: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Points, seed-style edges ``(E, 2)`` = (target, source) with self-loops, x, g, theta."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(size=(num_nodes, 2))
    senders, receivers = radius_graph(
        points, cutoff_for_degree(num_nodes, MEAN_DEGREE), self_loops=True
    )
    limit = np.sqrt(6.0 / (2 * features))  # Glorot-uniform, as both layers initialise
    return {
        "edges": np.stack([receivers, senders], axis=1).astype(np.int64),
        "x": rng.standard_normal((num_nodes, features)).astype(np.float32),
        "g": rng.standard_normal((num_nodes, features)).astype(np.float32),
        "theta": rng.uniform(-limit, limit, (features, features)).astype(np.float32),
        "bias": (0.1 * rng.standard_normal(features)).astype(np.float32),
    }


def jaxdl_side(problem: dict[str, np.ndarray]):
    """``step() -> (out, dx, dkernel, dbias)`` of the jitted GCNConv forward+backward."""
    from jaxdl.data.graphs import graphs_tuple
    from jaxdl.graph import GCNConv

    features = problem["x"].shape[1]
    conv = GCNConv(features, features, rngs=nnx.Rngs(0))
    conv.kernel[...] = jnp.asarray(problem["theta"])
    conv.bias[...] = jnp.asarray(problem["bias"])
    graphdef, params = nnx.split(conv)
    edges = problem["edges"]
    graph = jax.device_put(graphs_tuple(problem["x"], edges[:, 1], edges[:, 0]))
    x, g = jnp.asarray(problem["x"]), jnp.asarray(problem["g"])

    @jax.jit
    def forward_backward(params, graph, x, g):
        def f(params, x):
            return nnx.merge(graphdef, params)(graph, x)

        out, vjp = jax.vjp(f, params, x)
        dparams, dx = vjp(g)
        return out, dx, dparams["kernel"][...], dparams["bias"][...]

    # A partial, not a lambda: the FLOP count compiles forward_backward for these args.
    return functools.partial(forward_backward, params, graph, x, g)


def torch_side(problem: dict[str, np.ndarray], which: str):
    """``step() -> (out, dx, dtheta[, dbias])`` for the corrected seed layer or PyG."""
    import torch

    from benchmarks._torch_gcn import CorrectedGraphConv

    features = problem["x"].shape[1]
    x = torch.from_numpy(problem["x"].copy())
    g = torch.from_numpy(problem["g"].copy())
    edges = torch.from_numpy(problem["edges"])
    if which == "corrected":
        layer = CorrectedGraphConv(features, features, activation=torch.nn.Identity())
        with torch.no_grad():
            layer.theta.copy_(torch.from_numpy(problem["theta"]))

        def call(x: torch.Tensor) -> torch.Tensor:
            return layer(x, edges)

        def weight_grads() -> list:
            return [layer.theta.grad]
    else:
        from torch_geometric.nn import GCNConv

        layer = GCNConv(features, features)
        with torch.no_grad():
            layer.lin.weight.copy_(torch.from_numpy(problem["theta"].T.copy()))
            layer.bias.copy_(torch.from_numpy(problem["bias"]))
        edge_index = edges[:, [1, 0]].T.contiguous()  # (2, E): source row, target row

        def call(x: torch.Tensor) -> torch.Tensor:
            return layer(x, edge_index)

        def weight_grads() -> list:
            return [layer.lin.weight.grad.T, layer.bias.grad]

    def step() -> tuple:
        for p in layer.parameters():
            p.grad = None
        xr = x.detach().requires_grad_(True)
        out = call(xr)
        out.backward(g)
        return (out.detach(), xr.grad, *weight_grads())

    return step


def _rel_diff(a: Any, b: Any) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def check_agreement(steps: dict[str, Any], bias: np.ndarray) -> dict[str, dict[str, float]]:
    """Relative max differences of jaxdl's output and gradients against both torch sides."""
    out, dx, dk, db = (np.asarray(a) for a in steps["jaxdl"]())
    c_out, c_dx, c_dk = (t.numpy() for t in steps["corrected"]())
    p_out, p_dx, p_dk, p_db = (t.numpy() for t in steps["torch_geometric"]())
    return {
        # The corrected seed layer has no bias: compare jaxdl's output minus its bias.
        "corrected": {
            "output": _rel_diff(out - bias, c_out),
            "input_grad": _rel_diff(dx, c_dx),
            "weight_grad": _rel_diff(dk, c_dk),
        },
        "torch_geometric": {
            "output": _rel_diff(out, p_out),
            "input_grad": _rel_diff(dx, p_dx),
            "weight_grad": _rel_diff(dk, p_dk),
            "bias_grad": _rel_diff(db, p_db),
        },
    }


def repeat(step, steps: int):
    def unit() -> Any:
        result = None
        for _ in range(steps):
            result = step()
        return result

    return unit


def one_thread(unit, threads: int):
    """``unit`` run with ``torch.set_num_threads(1)``, restoring ``threads`` afterwards."""
    import torch

    def wrapped() -> Any:
        torch.set_num_threads(1)
        try:
            return unit()
        finally:
            torch.set_num_threads(threads)

    return wrapped


def run(
    *,
    num_nodes: int = NUM_NODES,
    features: int = FEATURES,
    repeats: int = REPEATS,
    steps: int = STEPS,
    quick: bool = False,
    batch_size: int | None = None,
    train_examples: int | None = None,
) -> dict[str, Any]:
    """Times the three sides and returns the result record (writes nothing).

    ``batch_size`` and ``train_examples`` are accepted for ``benchmarks.run``'s common
    options and ignored: one graph, no dataset.
    """
    del batch_size, train_examples
    import torch

    if quick:
        num_nodes, steps, repeats = QUICK["num_nodes"], QUICK["steps"], QUICK["repeats"]
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    _harness.set_threads()
    torch.manual_seed(0)
    problem = make_problem(num_nodes, features)
    sides = {
        "jaxdl": jaxdl_side(problem),
        "corrected": torch_side(problem, "corrected"),
        "torch_geometric": torch_side(problem, "torch_geometric"),
    }
    agreement = check_agreement(sides, problem["bias"])
    units = {name: repeat(step, steps) for name, step in sides.items()}
    # Reference only, not the ratio: torch on one thread. On a busy 2-core machine torch's
    # two OpenMP threads wait on each other and slow down many times over; one thread
    # shows what the torch code costs without that effect.
    threads = torch.get_num_threads()
    for name in ("corrected", "torch_geometric"):
        units[f"{name}_1_thread"] = one_thread(units[name], threads)
    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(units, warmup=1, repeats=repeats)
    per_call = {name: [1e3 * t / steps for t in ts] for name, ts in times.items()}
    ms = {name: _harness.median(v) for name, v in per_call.items()}
    extra = {
        "num_nodes": num_nodes,
        "num_edges": int(len(problem["edges"])),
        "mean_degree_with_self_loop": len(problem["edges"]) / num_nodes,
        "features": f"{features} -> {features}",
        "steps": steps,
        "repeats": repeats,
        "ms_per_call": ms,
        "ms_per_call_all": per_call,
        "ratio_vs_torch_geometric": ms["torch_geometric"] / ms["jaxdl"],
        "reference_ratios_torch_1_thread": {
            "corrected": ms["corrected_1_thread"] / ms["jaxdl"],
            "torch_geometric": ms["torch_geometric_1_thread"] / ms["jaxdl"],
        },
        "sanity": {"relative_max_difference": agreement},
        "quick": quick,
        "load_average_before": load_before,
        "other_cpu_load": other.cores,
        # One jitted forward+backward, called ``steps`` times per timed unit.
        "flops": _harness.flops_record(
            _harness.step_cost(sides["jaxdl"].func, *sides["jaxdl"].args),
            steps,
            _harness.median(times["jaxdl"]),
        ),
    }
    record = _harness.result_record(
        NAME, METRIC, ms["jaxdl"], ms["corrected"], UNIT, extra, higher_is_better=False
    )
    print(
        f"  jaxdl {ms['jaxdl']:.2f} ms, corrected seed layer (index_add_) "
        f"{ms['corrected']:.2f} ms, torch_geometric GCNConv {ms['torch_geometric']:.2f} ms "
        f"per call (one torch thread: {ms['corrected_1_thread']:.2f} and "
        f"{ms['torch_geometric_1_thread']:.2f} ms); other load {other.cores}",
        flush=True,
    )
    return record


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
