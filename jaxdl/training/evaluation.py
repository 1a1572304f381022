"""Evaluation over a whole dataset kept on the device, in padded, masked batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.training.sources import Data, num_examples, take
from jaxdl.training.state import TrainState
from jaxdl.training.step import EvalFn


def make_evaluator(
    eval_fn: EvalFn, batch_size: int
) -> Callable[[TrainState, Data], dict[str, jax.Array]]:
    """A jitted ``evaluate(state, data) -> {metric: mean over all examples}``.

    The data is padded up to whole batches and the padding masked out, so every example
    counts exactly once whatever ``batch_size`` is; the batches run in one ``lax.scan``.

    Args:
      eval_fn: ``eval_fn(model, batch, where) -> {metric: sum over the valid rows}``.
      batch_size: rows per evaluation batch.

    Returns:
      ``evaluate(state, data)`` with ``data`` a mapping of ``(n, ...)`` arrays.

    Raises:
      ValueError: ``batch_size`` is not positive.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size is {batch_size}, expected a positive integer.")

    @jax.jit
    def evaluate(state: TrainState, data: Data) -> dict[str, jax.Array]:
        n = num_examples(data)
        return masked_mean(eval_fn, state.model(), data, batch_size=batch_size, count=n)

    return evaluate


def masked_mean(
    eval_fn: EvalFn, model: Any, data: Data, *, batch_size: int, count: int | jax.Array
) -> dict[str, jax.Array]:
    """``eval_fn``'s sums over the first ``count`` rows of ``data``, divided by ``count``.

    The rows are run in padded batches of ``batch_size`` in one ``lax.scan``; rows at or
    past ``count`` (the padding, or rows a caller leaves out) are evaluated but masked out,
    so ``count`` may be traced (e.g. per run of a vmapped stack) without changing shapes.
    For use inside ``jit``; :func:`make_evaluator` is the whole-dataset evaluator.
    """
    n = num_examples(data)
    steps = -(-n // batch_size)
    idx = jnp.arange(steps * batch_size)
    where = (idx < count).reshape(steps, batch_size)
    idx = jnp.minimum(idx, n - 1).reshape(steps, batch_size)

    def body(total, xs):
        i, w = xs
        sums = eval_fn(model, take(data, i), w)
        return jax.tree.map(jnp.add, total, sums), None

    zeros = jax.eval_shape(eval_fn, model, take(data, idx[0]), where[0])
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), zeros)
    total, _ = jax.lax.scan(body, zeros, (idx, where))
    return jax.tree.map(lambda t: t / count, total)
