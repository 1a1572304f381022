"""A checkpoint written under ``fsdp=8`` restored under ``data=2,fsdp=4`` and on one device,
each straight into its shardings. Run on 8 simulated CPU devices as a subprocess
(``python -m tests.parallel.sharded_restore DIR``) by test_sharded_restore.py; prints one
JSON line."""

from __future__ import annotations

import json
import os
import sys

flags = os.environ.get("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=8".strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

import jaxdl.parallel  # noqa: E402
from jaxdl.parallel import make_mesh, place, state_shardings  # noqa: E402
from jaxdl.training import Checkpointer, TrainState  # noqa: E402


class MLP(nnx.Module):
    def __init__(self, seed: int):
        rngs = nnx.Rngs(seed)
        self.hidden = nnx.Linear(64, 256, rngs=rngs)
        self.out = nnx.Linear(256, 16, rngs=rngs)


def build(seed: int) -> TrainState:
    return TrainState.create(MLP(seed), optax.adam(1e-3), key=jax.random.key(seed))


def host(x: jax.Array) -> np.ndarray:
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.asarray(jax.device_get(x))


def no_place(*_):
    """Stands in for ``place``, the one way jaxdl's restore could build a full host copy
    of a leaf (its fallback for checkpoints it cannot read sharded)."""
    raise AssertionError("restore placed a host copy (jaxdl.parallel.place)")


def main(folder: str) -> dict:
    written = build(0)
    written_mesh = make_mesh("fsdp=8")
    written = place(written, state_shardings(written, written_mesh))
    ckpt = Checkpointer(folder)
    ckpt.save(5, written)
    expected = [host(x) for x in jax.tree.leaves(written)]
    sharded_leaves = sum(
        not x.sharding.is_fully_replicated for x in jax.tree.leaves(written) if x.ndim
    )
    out = {"devices": jax.device_count(), "sharded_leaves_written": sharded_leaves}
    one = jax.sharding.SingleDeviceSharding(jax.devices()[3])
    for name, targets in (
        ("data=2,fsdp=4", lambda t: state_shardings(t, make_mesh("data=2,fsdp=4"))),
        ("one_device", lambda t: jax.tree.map(lambda _: one, t)),
    ):
        template = build(1)  # other values: everything must come from the checkpoint
        shardings = targets(template)
        real_place, jaxdl.parallel.place = jaxdl.parallel.place, no_place
        try:
            key, restored = ckpt.restore(template, shardings=shardings)
        finally:
            jaxdl.parallel.place = real_place
        leaves, wanted = jax.tree.leaves(restored), jax.tree.leaves(shardings)
        out[name] = {
            "key": key,
            "equal": all(
                np.array_equal(a, host(b)) and a.dtype == host(b).dtype
                for a, b in zip(expected, leaves, strict=True)
            ),
            "at_target": all(
                x.sharding.is_equivalent_to(s, host(x).ndim)
                for x, s in zip(leaves, wanted, strict=True)
            ),
            "largest_shard": max(
                max(s.data.size for s in x.addressable_shards) / host(x).size
                for x in leaves
                if host(x).size >= 1024
            ),
        }
    ckpt.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
