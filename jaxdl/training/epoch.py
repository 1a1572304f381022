"""Epochs compiled into ``lax.scan`` over batches of data that stays on the device."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
from jax.sharding import Sharding

from jaxdl.training.state import TrainState
from jaxdl.training.step import EvalFn, LossFn, Metrics, guarded_train_step

Data = Mapping[str, jax.Array]
ChunkFn = Callable[[TrainState, Data, jax.Array], tuple[TrainState, Metrics, jax.Array]]


def take(data: Data, idx: jax.Array) -> dict[str, jax.Array]:
    """Gathers the rows ``idx`` of every array in ``data``."""
    return {k: v[idx] for k, v in data.items()}


def num_examples(data: Data) -> int:
    """The common leading dimension of ``data``; ``ValueError`` if they differ."""
    sizes = {k: v.shape[0] for k, v in data.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"data has leading dimensions {sizes}, expected all equal.")
    return next(iter(sizes.values()))


def epoch_order(key: jax.Array, n: int, batch_size: int) -> jax.Array:
    """A fresh permutation of ``range(n)`` cut into ``(n // batch_size, batch_size)``.

    The last ``n % batch_size`` examples of the permutation are dropped, so every step
    sees a full batch and the compiled step has one shape.
    """
    if not 0 < batch_size <= n:
        raise ValueError(f"batch_size is {batch_size}, expected 1 <= batch_size <= {n}.")
    steps = n // batch_size
    return jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)


def make_train_chunk(
    loss_fn: LossFn, *, accum_steps: int = 1, batch_sharding: Sharding | None = None
) -> ChunkFn:
    """A jitted ``run(state, data, order) -> (state, metric_sums, bad_step)``.

    ``order`` is ``(S, B)`` example indices: the function runs ``S`` steps in one
    ``lax.scan``, gathering each batch on the device. The state is donated.

    ``metric_sums`` sums each metric's batch mean over the ``S`` steps. ``bad_step`` is
    ``-1``, or the first step whose loss or new parameters were not finite; from that
    step on updates are skipped, so the returned state is the last good one.

    ``batch_sharding`` (see :mod:`jaxdl.parallel`) splits each gathered batch over the
    devices of a mesh; the state's own sharding decides data parallel or FSDP.
    ``accum_steps`` is passed to :func:`jaxdl.training.step.train_step`.
    """

    def run(state: TrainState, data: Data, order: jax.Array):
        return _scan_steps(
            state,
            order,
            lambda idx: take(data, idx),
            loss_fn=loss_fn,
            accum_steps=accum_steps,
            batch_sharding=batch_sharding,
        )

    return jax.jit(run, donate_argnums=0)


def make_fed_train_chunk(
    loss_fn: LossFn, *, accum_steps: int = 1, batch_sharding: Sharding | None = None
) -> Callable[[TrainState, Data], tuple[TrainState, Metrics, jax.Array]]:
    """Like :func:`make_train_chunk`, but ``run(state, batches)`` takes the ``S`` batches
    themselves, stacked ``(S, B, ...)``: the form for data that is not on the device, or
    that each process of a multi-host run holds only a share of (see
    :func:`jaxdl.parallel.global_batches`)."""

    def run(state: TrainState, batches: Data):
        return _scan_steps(
            state,
            batches,
            lambda batch: batch,
            loss_fn=loss_fn,
            accum_steps=accum_steps,
            batch_sharding=batch_sharding,
        )

    return jax.jit(run, donate_argnums=0)


def _scan_steps(state, xs, get_batch, *, loss_fn, accum_steps, batch_sharding):
    def body(carry, x):
        state, bad_step = carry
        batch = get_batch(x)
        if batch_sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
        state, bad_step, metrics = guarded_train_step(
            state, batch, bad_step, loss_fn=loss_fn, accum_steps=accum_steps
        )
        return (state, bad_step), metrics

    (state, bad_step), metrics = jax.lax.scan(body, (state, jnp.int32(-1)), xs)
    return state, jax.tree.map(lambda m: m.sum(0), metrics), bad_step


def make_evaluator(
    eval_fn: EvalFn, batch_size: int
) -> Callable[[TrainState, Data], dict[str, jax.Array]]:
    """A jitted ``evaluate(state, data) -> {metric: mean over all examples}``.

    The data is padded up to whole batches and the padding masked out, so every example
    counts exactly once whatever ``batch_size`` is.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size is {batch_size}, expected a positive integer.")

    @jax.jit
    def evaluate(state: TrainState, data: Data) -> dict[str, jax.Array]:
        n = num_examples(data)
        steps = -(-n // batch_size)
        idx = jnp.arange(steps * batch_size)
        where = (idx < n).reshape(steps, batch_size)
        idx = jnp.minimum(idx, n - 1).reshape(steps, batch_size)
        model = state.model()

        def body(total, xs):
            i, w = xs
            sums = eval_fn(model, take(data, i), w)
            return jax.tree.map(jnp.add, total, sums), None

        zeros = jax.eval_shape(eval_fn, model, take(data, idx[0]), where[0])
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), zeros)
        total, _ = jax.lax.scan(body, zeros, (idx, where))
        return jax.tree.map(lambda t: t / n, total)

    return evaluate
