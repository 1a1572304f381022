"""Feeding a mesh: each process's share of the data, global batches, placed state.

On one host every array is built with ``jax.device_put``. On many hosts no process
sees the whole batch: each loads its own rows (:func:`process_share`), cuts its local
part of every batch, and :func:`global_batches` assembles the global array from the
local parts with ``jax.make_array_from_process_local_data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.parallel.mesh import batch_axes
from jaxdl.parallel.sharding import batch_sharding, replicated


def process_share(n: int) -> slice:
    """The rows ``[p * n / P, (p + 1) * n / P)`` this process loads, of ``n`` in all.

    Every process gets the same number of rows (the last ``n % P`` are dropped), so
    every process runs the same number of steps.

    Args:
      n: the number of rows in all.

    Returns:
      This process's slice, of ``n // jax.process_count()`` rows.

    Example:
      >>> process_share(10)  # one process: all of it
      slice(0, 10, None)
    """
    count, index = jax.process_count(), jax.process_index()
    per = n // count
    return slice(index * per, (index + 1) * per)


def local_batch_size(batch_size: int) -> int:
    """This process's part of a global batch of ``batch_size`` examples.

    Args:
      batch_size: the global batch size.

    Returns:
      ``batch_size // jax.process_count()``.

    Raises:
      ValueError: when ``batch_size`` does not split evenly over the processes.

    Example:
      >>> local_batch_size(32)  # one process
      32
    """
    count = jax.process_count()
    if batch_size % count:
        raise ValueError(
            f"batch_size is {batch_size}, which does not split over the {count} processes; "
            f"use a multiple of {count}."
        )
    return batch_size // count


def global_batches(local: Mapping[str, np.ndarray], mesh: Mesh, *, stacked: bool = True):
    """Global arrays from this process's rows of each batch.

    ``local`` holds ``(S, b, ...)`` arrays (``stacked``: ``S`` batches of ``b`` local
    examples) or ``(b, ...)``; the result has ``P * b`` examples per batch, split over
    the mesh's batch axes, where ``P`` is the number of processes.

    Args:
      local: this process's rows by name, ``(S, b, ...)`` or ``(b, ...)`` arrays.
      mesh: the mesh (over every process's devices) the batches are split over.
      stacked: whether the arrays have the leading steps axis ``S``.

    Returns:
      A dict of global ``jax.Array`` with the same keys, shape ``(S, P * b, ...)``
      (``stacked``) or ``(P * b, ...)``.

    Example:
      >>> from jaxdl.parallel import make_mesh
      >>> global_batches({"x": np.zeros((2, 4, 3))}, make_mesh(""))["x"].shape
      (2, 4, 3)
    """
    sharding = (
        NamedSharding(mesh, P(None, batch_axes(mesh) or None)) if stacked else batch_sharding(mesh)
    )
    axis = 1 if stacked else 0
    out = {}
    for k, v in local.items():
        v = np.asarray(v)
        shape = list(v.shape)
        shape[axis] *= jax.process_count()
        out[k] = jax.make_array_from_process_local_data(sharding, v, tuple(shape))
    return out


def replicate(data: Mapping[str, Any], mesh: Mesh) -> dict[str, jax.Array]:
    """Every device of the mesh holds all of ``data`` (each process passes all of it).

    Args:
      data: arrays (anything ``np.asarray`` takes) by name, equal on all processes.
      mesh: the device mesh.

    Returns:
      A dict of replicated global ``jax.Array`` with the same keys and shapes.

    Example:
      >>> from jaxdl.parallel import make_mesh
      >>> replicate({"x": np.arange(3)}, make_mesh(""))["x"].tolist()
      [0, 1, 2]
    """
    sharding = replicated(mesh)
    return {
        k: jax.make_array_from_process_local_data(sharding, np.asarray(v), np.shape(v))
        for k, v in data.items()
    }


def place(tree: Any, shardings: Any) -> Any:
    """Puts every leaf of ``tree`` (equal on all processes) at its sharding.

    Works across processes: each builds only its addressable shards from its own
    copy. Typed PRNG keys go through their raw data.

    Args:
      tree: a pytree of arrays, equal on all processes.
      shardings: a pytree of the structure of ``tree`` with a ``Sharding`` per leaf
        (e.g. from :func:`~jaxdl.parallel.state_shardings`).

    Returns:
      ``tree`` with every leaf a global ``jax.Array`` at its sharding (same shapes).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdl.parallel import make_mesh, replicated
      >>> place({"w": jnp.ones(2)}, {"w": replicated(make_mesh(""))})["w"].tolist()
      [1.0, 1.0]
    """

    def one(x, sharding):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(x)
            return jax.random.wrap_key_data(one(jax.random.key_data(x), sharding), impl=impl)
        host = np.asarray(jax.device_get(x))
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    return jax.tree.map(one, tree, shardings)
