"""Where arrays live on a mesh: replicated state (data parallel), sharded state (FSDP),
and stacks of vmapped runs split over the ``runs`` axis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.parallel.mesh import RUNS_AXIS, batch_axes, check_num_runs
from jaxdl.parallel.tensor import (
    MODEL,
    TRANSFORMER_RULES,
    Rule,
    check_heads,
    check_rules,
    leaf_spec,
    path_name,
)

#: Leaves smaller than this stay replicated under FSDP. Zero by default: every leaf
#: with an axis the fsdp size divides is sharded (biases and norm scales included, as
#: ZeRO-3 does), and XLA combines the small all-gathers. Raise it to trade memory for
#: fewer collectives.
MIN_SHARD_SIZE = 0
_WHOLE = P()


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


def fsdp_spec(
    shape: tuple[int, ...], size: int, *, min_size: int = MIN_SHARD_SIZE, base: P = _WHOLE
) -> P:
    """Shards the largest axis of ``shape`` that ``size`` divides, over ``fsdp``.

    Args:
      shape: the array's shape.
      size: the size of the mesh's ``fsdp`` axis; ``<= 1`` means replicated.
      min_size: arrays with fewer elements stay replicated.
      base: a spec whose split axes (e.g. over ``model``) are kept and not used for
        ``fsdp``; ``P()``: none.

    Returns:
      ``base`` with ``"fsdp"`` at the largest free axis ``size`` divides (the first such
      on ties), or ``base`` itself when there is none.

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
        return base
    taken = list(base) + [None] * (len(shape) - len(base))
    dims = sorted(range(len(shape)), key=lambda i: -shape[i])
    for i in dims:
        if taken[i] is None and shape[i] % size == 0:
            return P(*(["fsdp" if j == i else taken[j] for j in range(len(shape))]))
    return base


def state_shardings(
    tree: Any,
    mesh: Mesh,
    *,
    vmapped: bool = False,
    rules: Sequence[Rule] | None = None,
    min_size: int = MIN_SHARD_SIZE,
) -> Any:
    """A ``NamedSharding`` for every array leaf of ``tree`` (a :class:`TrainState`, say).

    Without an ``fsdp`` or ``model`` axis everything is replicated: data parallelism,
    with the gradient mean over ``data`` inserted by XLA. With ``fsdp``, each
    large-enough leaf is split along its largest divisible axis, so parameters,
    gradients and the optimiser moments (same shapes as the parameters) are all ZeRO-3
    sharded; XLA all-gathers a weight where the forward needs it and reduce-scatters its
    gradient. With ``model``, the leaves that ``rules`` match are split over it first
    (tensor parallelism, :mod:`jaxdl.parallel.tensor`; the moments share their
    parameters' path suffixes, so their specs), and ``fsdp`` takes a remaining axis.

    With ``vmapped``, ``tree`` is a stack of runs: every leaf's leading axis (of size
    ``R``, the number of runs) is split over the mesh's ``runs`` axis, typed PRNG keys
    included, and the FSDP rule above applies to the rest of the leaf's shape. Run ``r``
    then lives on the devices of ``runs`` index ``r // (R / runs)``. A mesh without a
    ``runs`` axis replicates the stack (the leading axis stays whole).

    Args:
      tree: a pytree of arrays (or anything with ``shape``/``dtype``); typed PRNG keys
        are replicated, or split over ``runs`` only, when ``vmapped``.
      mesh: the device mesh; the sizes of its ``fsdp``, ``model`` and ``runs`` axes (1
        if absent) are used.
      vmapped: every leaf has the leading ``(R, ...)`` axis of a stack of runs.
      rules: the tensor-parallel ``(regex, PartitionSpec)`` table, used when the mesh
        has a ``model`` axis; ``None``: the Megatron rules of :mod:`jaxdl.nn.transformer`
        (:data:`~jaxdl.parallel.TRANSFORMER_RULES`).
      min_size: leaves with fewer elements stay replicated (see :func:`fsdp_spec`);
        with ``vmapped``, the size of one run's part counts.

    Returns:
      A pytree of the structure of ``tree`` with a ``NamedSharding`` at every leaf.

    Raises:
      ValueError: with ``vmapped``, when a leaf is a scalar or the number of runs ``R``
        is not a multiple of the ``runs`` axis size; when the mesh's ``model`` axis is
        larger than 1 and no leaf matches ``rules`` (the axis would do nothing), an
        attention module's ``n_heads`` does not split over it, or a matched leaf does
        not (see :func:`~jaxdl.parallel.leaf_spec`).

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
    rules = TRANSFORMER_RULES if rules is None else rules
    tensor = MODEL in mesh.shape
    if tensor:
        check_rules(rules)
        check_heads(tree, mesh)
    split = []  # the leaves split over model

    def one(path, x):
        shape = tuple(getattr(x, "shape", ()))
        is_key = jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)
        if vmapped:
            if not shape:
                raise ValueError(
                    "state_shardings got a scalar leaf with vmapped=True, expected every "
                    "leaf to have the leading axis of the stack of runs."
                )
            check_num_runs(shape[0], mesh, name="the number of runs (every leaf's leading axis)")
        inner = shape[1:] if vmapped else shape  # one run's leaf
        base = P()
        if tensor and not is_key:
            base = leaf_spec(path_name(path), inner, mesh, rules)
            if any(axis is not None for axis in base):
                split.append(path)
        rest = P() if is_key else fsdp_spec(inner, size, min_size=min_size, base=base)
        if not vmapped:
            return NamedSharding(mesh, rest)
        spec = P(runs, *rest) if runs is not None or len(rest) else P()
        return NamedSharding(mesh, spec)

    out = jax.tree_util.tree_map_with_path(one, tree)
    if tensor and mesh.shape[MODEL] > 1 and not split:
        raise ValueError(
            f"the mesh has model={mesh.shape[MODEL]}, but no leaf of the state matches the "
            "tensor-parallel rules; pass rules for your model's parameter paths "
            "(see jaxdl.parallel.tensor) or drop the model axis."
        )
    return out


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
