"""A recipe's vmapped stack of runs on one device and on a mesh, compared; run as a
subprocess by test_runs_axis.py with simulated CPU devices::

    python -m tests.parallel.runs_axis DEVICES MESH WORKDIR RECIPE_ARGS...

trains ``python -m train RECIPE_ARGS...`` twice (``--config.mesh=""`` and
``--config.mesh=MESH``, in ``WORKDIR/one`` and ``WORKDIR/mesh``), then once more in
``WORKDIR/mesh``, which resumes from the finished run's checkpoint onto the mesh. Prints
one JSON line: the summaries, how far the final states are apart, and how each leaf of
the mesh run's final state is laid out over the devices.
"""

from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__":  # pytest's doctest collection imports this module too
    flags = os.environ.get("XLA_FLAGS", "")
    count = f"--xla_force_host_platform_device_count={int(sys.argv[1])}"
    os.environ["XLA_FLAGS"] = f"{flags} {count}".strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxdl.charlm.spec  # noqa: E402
import train.gcn_karate.train  # noqa: E402
import train.ppo.train  # noqa: E402
from train.__main__ import main  # noqa: E402

# Where each recipe calls the engine's train; the wrapper keeps the final states.
CALLERS = (train.ppo.train, train.gcn_karate.train, jaxdl.charlm.spec)
finals: list = []


def _keeping(engine_train):
    def wrapped(*args, **kwargs):
        result = engine_train(*args, **kwargs)
        finals.append(result.state)
        return result

    return wrapped


for module in CALLERS:
    module.train = _keeping(module.train)


def _numpy(tree):
    def one(x):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        return np.asarray(jax.device_get(x))

    return [one(x) for x in jax.tree.leaves(tree)]


def _layout(tree) -> list[dict]:
    """Per leaf: its global shape, the shapes of its addressable shards, the devices."""
    out = []
    for path, x in jax.tree_util.tree_leaves_with_path(tree):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        out.append(
            {
                "path": jax.tree_util.keystr(path),
                "shape": list(x.shape),
                "shard_shapes": sorted({tuple(s.data.shape) for s in x.addressable_shards}),
                "devices": len(x.sharding.device_set),
                "spec": str(getattr(x.sharding, "spec", "")),
            }
        )
    return out


def _train(workdir: str, mesh: str) -> tuple[list, dict]:
    del finals[:]
    rc = main([*sys.argv[4:], f"--workdir={workdir}", f"--config.mesh={mesh}"])
    assert rc == 0, f"the run with mesh {mesh!r} exited with {rc}"
    with open(os.path.join(workdir, "summary.json")) as f:
        summary = json.load(f)
    return list(finals), summary


def _compare(a: list, b: list) -> dict:
    pairs = [(x, y) for sa, sb in zip(a, b, strict=True) for x, y in zip(sa, sb, strict=True)]
    pairs64 = [(x.astype(np.float64), y.astype(np.float64)) for x, y in pairs]
    diffs = [np.abs(x - y) for x, y in pairs64]
    # |a - b| / max(|a|, 1): relative for large values, absolute near zero.
    rel = [np.abs(x - y) / np.maximum(np.abs(x), 1.0) for x, y in pairs64]
    return {
        "bit_identical": all(np.array_equal(x, y) for x, y in pairs),
        "max_abs_diff": max(float(d.max(initial=0.0)) for d in diffs),
        "max_rel_diff": max(float(r.max(initial=0.0)) for r in rel),
        "num_leaves": len(pairs),
    }


def _numbers(summary: dict) -> dict:
    """The summary's final metrics but timings and speeds."""
    return {
        k: v
        for k, v in summary["metrics"].items()
        if isinstance(v, int | float) and not k.endswith("_s") and "time" not in k
    }


def main_() -> None:
    root, mesh = sys.argv[3], sys.argv[2]
    one_states, one_summary = _train(os.path.join(root, "one"), "")
    mesh_states, mesh_summary = _train(os.path.join(root, "mesh"), mesh)
    layout = [_layout(s) for s in mesh_states]
    one_np, mesh_np = [_numpy(s) for s in one_states], [_numpy(s) for s in mesh_states]
    del mesh_states
    # Again in the same workdir: restores the finished run's checkpoint onto the mesh.
    restored_states, restored_summary = _train(os.path.join(root, "mesh"), mesh)
    print(
        json.dumps(
            {
                "devices": jax.device_count(),
                "one": _numbers(one_summary),
                "mesh": _numbers(mesh_summary),
                "compare": _compare(one_np, mesh_np),
                "layout": layout,
                "restored": _compare(mesh_np, [_numpy(s) for s in restored_states]),
                "restored_layout": [_layout(s) for s in restored_states],
            }
        )
    )


if __name__ == "__main__":
    main_()
