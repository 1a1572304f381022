"""Batch sources: where the batches of a compiled chunk of training steps come from.

The engine (:func:`jaxdl.training.train`) runs training as compiled chunks: one
``jax.jit`` call scans ``length`` steps. A *batch source* tells it three things:

* ``steps_per_epoch``: how many steps make one epoch (the unit of logging, evaluation
  and checkpoints);
* ``inputs(epoch, start, stop)`` on the host: the arrays the chunk scans over (example
  indices, host-fed batches) or ``None``;
* inside the compiled chunk, ``scan_inputs(state, data, inputs, length)`` (what
  ``lax.scan`` iterates over) and ``batch(state, data, x)`` (one step's batch).

``data`` is the source's device-resident pytree (``source.data``), passed to the chunk
as an argument rather than closed over, so XLA never embeds a dataset as a constant.

The sources here cover every recipe:

==================  ===========================================================
:class:`Permuted`   data on the device, a fresh permutation per epoch (classifiers)
:class:`Sampled`    data on the device, windows drawn with replacement per step
:class:`Generated`  a batch made from the step's key (synthetic tasks, episodes)
:class:`FullBatch`  the whole dataset every step (one graph, one trajectory)
:class:`HostFed`    host arrays cut into global batches over a mesh (multi-host)
==================  ===========================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, Sharding

from jaxdl.training.state import TrainState

Data = Mapping[str, jax.Array]
Batch = Mapping[str, jax.Array]


class BatchSource(Protocol):
    """What :func:`jaxdl.training.train` needs of a source of batches."""

    steps_per_epoch: int
    data: Any
    batch_sharding: Sharding | None

    def inputs(self, epoch: int, start: int, stop: int) -> Any: ...

    def scan_inputs(self, state: TrainState, data: Any, inputs: Any, length: int) -> Any: ...

    def batch(self, state: TrainState, data: Any, x: Any) -> Batch: ...


def take(data: Data, idx: jax.Array) -> dict[str, jax.Array]:
    """Gathers the rows ``idx`` of every array in ``data``.

    Args:
      data: arrays of shape ``(N, ...)``, by name.
      idx: integer row indices, shape ``(B,)`` (or any index ``v[idx]`` accepts).

    Returns:
      A dict with the same keys, each array of shape ``(B, ...)``.

    Example:
      >>> take({"x": jnp.arange(5)}, jnp.array([4, 0]))["x"].tolist()
      [4, 0]
    """
    return {k: v[idx] for k, v in data.items()}


def num_examples(data: Data) -> int:
    """The common leading dimension of ``data``.

    Args:
      data: a non-empty mapping of arrays of shape ``(N, ...)``.

    Returns:
      ``N``.

    Raises:
      ValueError: if the arrays of ``data`` differ in length (or ``data`` is empty).

    Example:
      >>> num_examples({"x": jnp.zeros((5, 2)), "y": jnp.zeros(5)})
      5
    """
    sizes = {k: v.shape[0] for k, v in data.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"data has leading dimensions {sizes}, expected all equal.")
    return next(iter(sizes.values()))


def epoch_order(key: jax.Array, n: int, batch_size: int) -> jax.Array:
    """A fresh permutation of ``range(n)`` cut into ``(n // batch_size, batch_size)``.

    The last ``n % batch_size`` examples of the permutation are dropped, so every step
    sees a full batch and the compiled step has one shape.

    Args:
      key: the PRNG key of the epoch.
      n: the number of examples.
      batch_size: the examples per step.

    Returns:
      int32 indices, shape ``(n // batch_size, batch_size)``; row ``i`` is step ``i``.

    Raises:
      ValueError: if ``batch_size`` is not in ``[1, n]``.

    Example:
      >>> epoch_order(jax.random.key(0), 10, 4).shape
      (2, 4)
    """
    if not 0 < batch_size <= n:
        raise ValueError(f"batch_size is {batch_size}, expected 1 <= batch_size <= {n}.")
    steps = n // batch_size
    return jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)


class _EpochOrder:
    """``epoch -> epoch_order(fold_in(key, epoch), n, batch_size)``, the last one cached."""

    def __init__(self, key: jax.Array, n: int, batch_size: int):
        self.key, self.n, self.batch_size = key, n, batch_size
        self.steps = epoch_order(key, n, batch_size).shape[0]  # validates batch_size
        self._last: tuple[int, jax.Array] | None = None

    def __call__(self, epoch: int) -> jax.Array:
        if self._last is None or self._last[0] != epoch:
            key = jax.random.fold_in(self.key, epoch)
            self._last = (epoch, epoch_order(key, self.n, self.batch_size))
        return self._last[1]


@dataclasses.dataclass
class Permuted:
    """Device-resident ``data`` in batches of a fresh permutation each epoch.

    Epoch ``e`` (from 1) uses ``epoch_order(fold_in(key, e), n, batch_size)``, so the
    order depends only on the key and the epoch: a resumed run sees the same batches.

    Args:
      data: ``{name: (n, ...)}`` device arrays.
      batch_size: examples per step; ``n % batch_size`` examples per epoch are dropped.
      key: the data key.
    """

    data: Data
    batch_size: int
    key: jax.Array
    batch_sharding: Sharding | None = None

    def __post_init__(self):
        self.num_examples = num_examples(self.data)
        self._order = _EpochOrder(self.key, self.num_examples, self.batch_size)
        self.steps_per_epoch = self._order.steps

    def order(self, epoch: int) -> jax.Array:
        """Epoch ``epoch``'s ``(steps_per_epoch, batch_size)`` example indices."""
        return self._order(epoch)

    def inputs(self, epoch: int, start: int, stop: int) -> jax.Array:
        return self.order(epoch)[start:stop]

    def scan_inputs(self, state, data, inputs, length):
        return inputs

    def batch(self, state, data, x):
        return take(data, x)


@dataclasses.dataclass
class HostFed:
    """Host arrays gathered into batches on the host and fed to each chunk.

    The same permutation as :class:`Permuted` picks the examples; the host gathers a
    chunk's ``(S, B, ...)`` batches. With a ``mesh``,
    :func:`jaxdl.parallel.global_batches` assembles them into global arrays whose batch
    axis is split over the mesh's batch axes; in a multi-process run ``host_data`` is
    this process's share and ``batch_size`` this process's part of the global batch.
    Without a mesh the batches go to the default device: the form for data too large
    to keep on the device.
    """

    host_data: Mapping[str, np.ndarray]
    batch_size: int
    key: jax.Array
    mesh: Mesh | None = None
    data = None  # nothing device-resident: the batches arrive as chunk inputs

    def __post_init__(self):
        from jaxdl.parallel import batch_sharding

        self._host = {k: np.asarray(v) for k, v in self.host_data.items()}
        self._order = _EpochOrder(self.key, num_examples(self._host), self.batch_size)
        self.steps_per_epoch = self._order.steps
        self.batch_sharding = None if self.mesh is None else batch_sharding(self.mesh)

    def inputs(self, epoch: int, start: int, stop: int) -> Data:
        from jaxdl.parallel import global_batches

        order = np.asarray(self._order(epoch)[start:stop])
        local = {k: v[order] for k, v in self._host.items()}
        if self.mesh is None:
            return {k: jnp.asarray(v) for k, v in local.items()}
        return global_batches(local, self.mesh)

    def scan_inputs(self, state, data, inputs, length):
        return inputs

    def batch(self, state, data, x):
        return x


@dataclasses.dataclass
class Sampled:
    """Device-resident ``data``, each step ``batch_size`` rows drawn with replacement.

    Step ``s`` of a run with key ``k`` draws ``randint(fold_in(fold_in(k, s), 1))``: the
    draws depend only on the run's key and the step number, so chunks, resumes and the
    rows of a vmapped sweep take the same steps. All draws of a chunk happen up front in
    one vectorised call.

    Args:
      data: ``{name: (n, ...)}`` device arrays.
      batch_size: rows per step.
      steps_per_epoch: steps between two logs/checkpoints.
    """

    data: Data
    batch_size: int
    steps_per_epoch: int
    batch_sharding: Sharding | None = None

    def __post_init__(self):
        self.num_examples = num_examples(self.data)

    def inputs(self, epoch, start, stop):
        return None

    def scan_inputs(self, state, data, inputs, length):
        steps = state.step + jnp.arange(length)
        n = self.rows(state, data)
        return jax.vmap(lambda s: minibatch_indices(state.key, s, n, self.batch_size))(steps)

    def rows(self, state, data) -> int | jax.Array:
        """How many leading rows of ``data`` the run draws from: all of them."""
        return num_examples(data)

    def batch(self, state, data, x):
        return take(data, x)


def minibatch_indices(key: jax.Array, step: jax.Array, num: int, batch_size: int) -> jax.Array:
    """The ``(batch_size,)`` row indices (with replacement) of step ``step`` of the run
    whose key is ``key``; they depend only on the key and the step number.

    Args:
      key: the run's PRNG key.
      step: the step number, an integer scalar (traced inside ``jit``).
      num: the number of examples; indices are drawn uniformly from ``[0, num)``.
      batch_size: the indices per step.

    Returns:
      int32 indices, shape ``(batch_size,)``.

    Example:
      >>> minibatch_indices(jax.random.key(0), jnp.int32(3), 10, 4).shape
      (4,)
    """
    return jax.random.randint(
        jax.random.fold_in(jax.random.fold_in(key, step), 1), (batch_size,), 0, num
    )


class _NothingToScan:
    """For sources whose steps need no per-step input: the scan runs ``length`` times."""

    def inputs(self, epoch: int, start: int, stop: int) -> None:
        return None

    def scan_inputs(self, state: TrainState, data: Any, inputs: Any, length: int) -> None:
        return None


@dataclasses.dataclass
class Generated(_NothingToScan):
    """Batches made on the device from the step's key: ``batch_fn(state.step_key())``.

    Args:
      batch_fn: ``key -> batch``, traced inside the chunk.
      steps_per_epoch: steps between two logs/checkpoints.
      data: optional device arrays the batches are cut from, passed as
        ``batch_fn(key, data)`` when given (so they are not embedded as constants).
    """

    batch_fn: Callable[..., Batch]
    steps_per_epoch: int
    data: Any = None
    batch_sharding: Sharding | None = None

    def batch(self, state, data, x):
        key = state.step_key()
        return self.batch_fn(key) if data is None else self.batch_fn(key, data)


@dataclasses.dataclass
class FullBatch(_NothingToScan):
    """The whole of ``data`` as every step's batch (full-batch gradient descent)."""

    data: Any
    steps_per_epoch: int
    batch_sharding: Sharding | None = None

    def batch(self, state, data, x):
        return data
