"""Where arrays live on a mesh: replicated state (data parallel), sharded state (FSDP),
and stacks of vmapped runs split over the ``runs`` axis."""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.parallel.mesh import RUNS_AXIS, batch_axes, check_num_runs

#: Leaves smaller than this stay replicated under FSDP. Zero by default: every leaf
#: with an axis the fsdp size divides is sharded (biases and norm scales included, as
#: ZeRO-3 does), and XLA combines the small all-gathers. Raise it to trade memory for
#: fewer collectives.
MIN_SHARD_SIZE = 0


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array.

    Args:
      mesh: the device mesh.

    Returns:
      ``NamedSharding(mesh, PartitionSpec())``.

    Example:
      >>> from jaxdl.parallel import make_mesh
      >>> replicated(make_mesh("")).spec == P()
      True
    """
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The leading (batch) axis split over all the mesh's batch axes, the rest whole.

    Args:
      mesh: the device mesh; its batch axes are :func:`~jaxdl.parallel.batch_axes`.

    Returns:
      A ``NamedSharding`` for arrays of shape ``(B, ...)`` whose ``B`` is split over the
      batch axes (replicated when the mesh has none).

    Example:
      >>> from jaxdl.parallel import make_mesh
      >>> batch_sharding(make_mesh("data=1")).spec == P(("data",))
      True
    """
    return NamedSharding(mesh, P(batch_axes(mesh) or None))


def fsdp_spec(shape: tuple[int, ...], size: int, *, min_size: int = MIN_SHARD_SIZE) -> P:
    """Shards the largest axis of ``shape`` that ``size`` divides, over ``fsdp``.

    Args:
      shape: the array's shape.
      size: the size of the mesh's ``fsdp`` axis; ``<= 1`` means replicated.
      min_size: arrays with fewer elements stay replicated.

    Returns:
      A ``PartitionSpec`` with ``"fsdp"`` at the largest axis ``size`` divides (the first
      such on ties), or ``P()`` (replicated) when there is none.

    Example:
      >>> fsdp_spec((784, 128), 8) == P("fsdp", None)
      True
      >>> fsdp_spec((10,), 8) == P()  # no axis divisible by 8: replicated
      True
      >>> fsdp_spec((64,), 8, min_size=1024) == P()
      True
    """
    n = 1
    for d in shape:
        n *= d
    if size <= 1 or n < min_size:
        return P()
    dims = sorted(range(len(shape)), key=lambda i: -shape[i])
    for i in dims:
        if shape[i] % size == 0:
            return P(*(["fsdp" if j == i else None for j in range(len(shape))]))
    return P()


def state_shardings(
    tree: Any, mesh: Mesh, *, vmapped: bool = False, min_size: int = MIN_SHARD_SIZE
) -> Any:
    """A ``NamedSharding`` for every array leaf of ``tree`` (a :class:`TrainState`, say).

    Without an ``fsdp`` axis everything is replicated: data parallelism, with the
    gradient mean over ``data`` inserted by XLA. With one, each large-enough leaf is
    split along its largest divisible axis, so parameters, gradients and the optimiser
    moments (same shapes as the parameters) are all ZeRO-3 sharded; XLA all-gathers a
    weight where the forward needs it and reduce-scatters its gradient.

    With ``vmapped``, ``tree`` is a stack of runs: every leaf's leading axis (of size
    ``R``, the number of runs) is split over the mesh's ``runs`` axis, typed PRNG keys
    included, and the FSDP rule above applies to the rest of the leaf's shape. Run ``r``
    then lives on the devices of ``runs`` index ``r // (R / runs)``. A mesh without a
    ``runs`` axis replicates the stack (the leading axis stays whole).

    Args:
      tree: a pytree of arrays (or anything with ``shape``/``dtype``); typed PRNG keys
        are replicated, or split over ``runs`` only, when ``vmapped``.
      mesh: the device mesh; the sizes of its ``fsdp`` and ``runs`` axes (1 if absent)
        are used.
      vmapped: every leaf has the leading ``(R, ...)`` axis of a stack of runs.
      min_size: leaves with fewer elements stay replicated (see :func:`fsdp_spec`);
        with ``vmapped``, the size of one run's part counts.

    Returns:
      A pytree of the structure of ``tree`` with a ``NamedSharding`` at every leaf.

    Raises:
      ValueError: with ``vmapped``, when a leaf is a scalar or the number of runs ``R``
        is not a multiple of the ``runs`` axis size.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdl.parallel import make_mesh
      >>> state_shardings({"w": jnp.zeros((4, 2))}, make_mesh(""))["w"].spec == P()
      True
      >>> mesh = make_mesh("runs=1")
      >>> state_shardings({"w": jnp.zeros((4, 2))}, mesh, vmapped=True)["w"].spec
      P('runs',)
    """
    size = mesh.shape.get("fsdp", 1)
    runs = RUNS_AXIS if RUNS_AXIS in mesh.axis_names else None

    def one(x):
        shape = tuple(getattr(x, "shape", ()))
        is_key = jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)
        if not vmapped:
            spec = P() if is_key else fsdp_spec(shape, size, min_size=min_size)
            return NamedSharding(mesh, spec)
        if not shape:
            raise ValueError(
                "state_shardings got a scalar leaf with vmapped=True, expected every leaf "
                "to have the leading axis of the stack of runs."
            )
        check_num_runs(shape[0], mesh, name="the number of runs (every leaf's leading axis)")
        rest = P() if is_key else fsdp_spec(shape[1:], size, min_size=min_size)
        spec = P(runs, *rest) if runs is not None or len(rest) else P()
        return NamedSharding(mesh, spec)

    return jax.tree.map(one, tree)


def bytes_per_device(tree: Any) -> dict[str, int]:
    """Bytes of ``tree``'s leaves held by each addressable device, by device id.

    Read from the arrays' own shards, so it reports what the sharding really does.

    Args:
      tree: a pytree; leaves that are not ``jax.Array`` are skipped, typed PRNG keys
        count their raw key data.

    Returns:
      ``{str(device.id): bytes}`` over the devices of this process that hold a shard.

    Example:
      >>> import jax.numpy as jnp
      >>> bytes_per_device({"w": jnp.zeros(4, jnp.float32)})
      {'0': 16}
    """
    out: dict[str, int] = {}
    for leaf in jax.tree.leaves(tree):
        if not isinstance(leaf, jax.Array):
            continue
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        for shard in leaf.addressable_shards:
            key = str(shard.device.id)
            out[key] = out.get(key, 0) + shard.data.nbytes
    return out


def total_bytes(tree: Any) -> int:
    """Bytes of ``tree``'s leaves as whole (unsharded) arrays.

    Args:
      tree: a pytree whose leaves all have ``size`` and ``dtype`` (arrays); typed PRNG
        keys count their raw key data.

    Returns:
      The sum of ``size * itemsize`` over the leaves.

    Example:
      >>> import jax.numpy as jnp
      >>> total_bytes({"w": jnp.zeros((4, 2), jnp.float32), "b": jnp.zeros(2, jnp.int8)})
      34
    """
    total = 0
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        total += leaf.size * leaf.dtype.itemsize
    return total
