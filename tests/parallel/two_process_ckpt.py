"""A checkpoint written by two processes, sharded across both, restored into both.

``python -m tests.parallel.two_process_ckpt PID PORT FOLDER OUT``: one of two processes
(one CPU device each, joined by ``jax.distributed`` over gloo on localhost). Together they
place a state under ``fsdp=2`` (each process holds half of every large leaf), save it with
one :class:`~jaxdl.training.Checkpointer`, and restore it into a template of other values
under ``fsdp=2`` (the same split) and under ``data=2`` (each process whole), with
:func:`jaxdl.parallel.place` forbidden. Each process checks the shards it holds and writes
``OUT`` (JSON) for test_multidevice.py.
"""

from __future__ import annotations

import json
import os
import sys

# One device per process (sharded_restore.py, imported below, would otherwise ask for 8).
flags = os.environ.get("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=1".strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

import jaxdl.parallel  # noqa: E402
from jaxdl import parallel  # noqa: E402
from jaxdl.parallel import make_mesh, place, state_shardings  # noqa: E402
from jaxdl.training import Checkpointer  # noqa: E402
from tests.parallel.sharded_restore import build, no_place  # noqa: E402


def _raw(x: jax.Array) -> jax.Array:
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def main(pid: int, port: str, folder: str) -> dict:
    parallel.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    written = build(0)
    written = place(written, state_shardings(written, make_mesh("fsdp=2")))
    # The whole written values, gathered for checking only (the restore never does this).
    full = [
        np.asarray(multihost_utils.process_allgather(_raw(x), tiled=True))
        for x in jax.tree.leaves(written)
    ]
    ckpt = Checkpointer(folder)
    ckpt.save(3, written)
    out: dict = {"process": jax.process_index(), "processes": jax.process_count()}
    out["sharded_leaves"] = sum(
        not x.sharding.is_fully_replicated for x in jax.tree.leaves(written) if x.ndim
    )
    for name in ("fsdp=2", "data=2"):
        template = build(1)  # other values: everything must come from the checkpoint
        shardings = state_shardings(template, make_mesh(name))
        real_place, jaxdl.parallel.place = jaxdl.parallel.place, no_place
        try:
            key, restored = ckpt.restore(template, shardings=shardings)
        finally:
            jaxdl.parallel.place = real_place
        leaves = [_raw(x) for x in jax.tree.leaves(restored)]
        out[name] = {
            "key": key,
            "equal": all(
                np.array_equal(np.asarray(s.data), f[s.index])
                for x, f in zip(leaves, full, strict=True)
                for s in x.addressable_shards
            ),
            "at_target": all(
                x.sharding.is_equivalent_to(s, f.ndim)
                for x, s, f in zip(leaves, jax.tree.leaves(shardings), full, strict=True)
            ),
            "largest_shard": max(
                max(s.data.size for s in x.addressable_shards) / f.size
                for x, f in zip(leaves, full, strict=True)
                if f.size >= 1024
            ),
        }
    ckpt.close()
    return out


if __name__ == "__main__":
    result = main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
    with open(sys.argv[4], "w") as f:
        json.dump(result, f)
