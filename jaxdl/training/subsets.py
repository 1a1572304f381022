"""Training-set sizes as one vmapped program: the runs of a learning curve.

A learning curve trains the same model on the first ``n_1 < n_2 < ...`` examples of one
fixed (shuffled) dataset. The runs differ only in ``n``, so they can share every shape:
each step of run ``r`` draws its batch uniformly (with replacement) from rows
``[0, n_r)`` of the same device-resident arrays. ``n_r`` travels in the state
(:class:`SubsetState`), the one thing :func:`jaxdl.training.train` maps over a stack of
runs, so the engine trains all sizes in one compiled program with ``vmapped=True``.

    >>> import optax
    >>> from flax import nnx
    >>> one = TrainState.create(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), optax.sgd(0.1),
    ...                         key=jax.random.key(0))
    >>> stack = with_subset_sizes(one, [8, 32])
    >>> stack.subset_size.tolist(), stack.params["kernel"][...].shape
    ([8, 32], (2, 2, 1))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.training.evaluation import masked_mean
from jaxdl.training.sources import Data, Sampled, num_examples
from jaxdl.training.state import TrainState
from jaxdl.training.step import EvalFn


class SubsetState(TrainState):
    """A :class:`TrainState` that trains on the first ``subset_size`` rows of its data.

    ``subset_size`` is an int32 scalar leaf (``(runs,)`` in a stack), so steps,
    checkpoints and shardings treat it like the step counter.
    """

    subset_size: Any = None


def with_subset_sizes(state: TrainState, sizes: Sequence[int]) -> SubsetState:
    """A stack of ``len(sizes)`` copies of ``state``, run ``r`` training on ``sizes[r]`` rows.

    Every run starts from the same parameters and the same key, so the runs differ in
    the training-set size alone (and in the batches that size lets them draw).

    Args:
      state: one train state (not a stack).
      sizes: the training-set size of each run, each at least 1.

    Returns:
      A :class:`SubsetState` whose leaves have a leading ``(len(sizes),)`` axis.

    Raises:
      ValueError: ``sizes`` is empty or holds a size below 1.
    """
    sizes = [int(n) for n in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes is {sizes}, expected a non-empty list of sizes >= 1.")
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(TrainState)}
    one = SubsetState(**fields, subset_size=jnp.int32(0))
    stack = jax.tree.map(lambda x: jnp.broadcast_to(x, (len(sizes), *x.shape)), one)
    return stack.replace(subset_size=jnp.asarray(sizes, jnp.int32))


@dataclasses.dataclass
class SampledSubset(Sampled):
    """Device-resident ``data``; each step ``batch_size`` rows drawn with replacement
    from the state's first ``subset_size`` rows.

    Step ``s`` of a run with key ``k`` and size ``n`` draws
    ``randint(fold_in(fold_in(k, s), 1), (batch_size,), 0, n)`` (as
    :class:`~jaxdl.training.Sampled` with ``n`` rows), so a run of a vmapped stack takes
    the same steps as the same run alone, and a resumed run the same as an
    uninterrupted one.

    Args:
      data: ``{name: (N, ...)}`` device arrays, in the order the sizes cut (shuffle them
        once, before, so that every prefix is a random sample); ``N`` at least the
        largest ``subset_size``.
      batch_size: rows per step.
      steps_per_epoch: steps between two evaluations/checkpoints.
    """

    def __post_init__(self):
        super().__post_init__()
        if self.batch_size < 1:
            raise ValueError(f"batch_size is {self.batch_size}, expected at least 1.")

    def rows(self, state, data) -> jax.Array:
        """The run's own training-set size (Sampled draws from every row)."""
        return state.subset_size


def check_subset_sizes(sizes: Sequence[int], available: int, *, name: str = "sizes") -> None:
    """Raises ``ValueError`` unless ``sizes`` are positive, growing and at most ``available``.

    Example:
      >>> check_subset_sizes([10, 100], 100)
    """
    sizes = [int(n) for n in sizes]
    if not sizes or sizes[0] < 1 or sizes != sorted(set(sizes)) or sizes[-1] > available:
        raise ValueError(
            f"{name} is {sizes}, expected strictly growing sizes in [1, {available}] "
            f"(the {available} examples available)."
        )


def make_subset_evaluator(eval_fn: EvalFn, batch_size: int):
    """A jitted ``evaluate(state, data) -> {metric: mean}`` over the first
    ``min(state.subset_size, N)`` rows of ``data``: a run's error on its own training set.

    Vmap it over a stack (``jax.vmap(evaluate, in_axes=(0, None))``) to score every run
    on its own prefix in one program. Rows past a run's size are evaluated but masked
    out, so all runs share one shape.

    Args:
      eval_fn: ``eval_fn(model, batch, where) -> {metric: sum over the valid rows}``
        (e.g. :func:`jaxdl.training.classifier_eval`).
      batch_size: rows per evaluation batch.

    Returns:
      ``evaluate(state, data)`` with ``data`` a mapping of ``(N, ...)`` arrays and
      ``state`` a :class:`SubsetState`.

    Raises:
      ValueError: ``batch_size`` is not positive.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size is {batch_size}, expected a positive integer.")

    @jax.jit
    def evaluate(state: SubsetState, data: Data) -> dict[str, jax.Array]:
        count = jnp.minimum(state.subset_size, num_examples(data))
        return masked_mean(eval_fn, state.model(), data, batch_size=batch_size, count=count)

    return evaluate
