"""Pure train and eval steps, built from a loss function of ``(model, batch)``.

A *loss function* here has the signature
``loss_fn(model, batch, *, train: bool, key: jax.Array | None) -> (loss, metrics)``
where ``loss`` is the scalar to minimise and ``metrics`` a dict of scalar batch means
(it should include ``"loss"``). An *eval function* has the signature
``eval_fn(model, batch, where) -> dict of per-batch sums`` so padded batches can be
masked; :func:`classifier_loss` and :func:`classifier_eval` are the ones for
classification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jaxdl.losses import softmax_cross_entropy
from jaxdl.metrics import accuracy
from jaxdl.training.state import TrainState, all_finite, select_update

Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]
LossFn = Callable[..., tuple[jax.Array, Metrics]]
EvalFn = Callable[[Any, Batch, jax.Array], Metrics]


def classifier_loss(
    model: Any,
    batch: Batch,
    *,
    train: bool,
    key: jax.Array | None,
    label_smoothing: float = 0.0,
) -> tuple[jax.Array, Metrics]:
    """Mean softmax cross-entropy of ``model(batch["image"])`` against ``batch["label"]``.

    Args:
      model: maps ``(B, ...)`` images to ``(B, classes)`` logits; called with
        ``train=`` and ``key=``.
      batch: ``{"image": (B, ...), "label": (B,) int}``.
      train: training mode (dropout, batch statistics).
      key: the step's PRNG key, or ``None``.
      label_smoothing: mass spread uniformly over the classes, in ``[0, 1)``.

    Returns:
      ``(loss, {"loss", "accuracy"})``, scalars (float32 whatever the compute dtype).
    """
    # Compute may be bfloat16/float16 (jaxdl.parallel.precision); the loss is float32.
    logits = model(batch["image"], train=train, key=key).astype(jnp.float32)
    loss = softmax_cross_entropy(logits, batch["label"], label_smoothing=label_smoothing).mean()
    return loss, {"loss": loss, "accuracy": accuracy(logits, batch["label"]).mean()}


def classifier_eval(model: Any, batch: Batch, where: jax.Array) -> Metrics:
    """Sums of loss and correct predictions over the valid (``where``) examples.

    Args:
      model: as in :func:`classifier_loss`; called in inference mode.
      batch: ``{"image": (B, ...), "label": (B,)}``.
      where: ``(B,)`` bool, ``False`` for padding.

    Returns:
      ``{"loss", "accuracy"}``: sums over the valid examples (the evaluator divides).
    """
    logits = model(batch["image"], train=False, key=None).astype(jnp.float32)
    labels = batch["label"]
    return {
        "loss": softmax_cross_entropy(logits, labels, where=where).sum(),
        "accuracy": accuracy(logits, labels, where=where).sum(),
    }


def train_step(
    state: TrainState, batch: Batch, *, loss_fn: LossFn, accum_steps: int = 1
) -> tuple[TrainState, Metrics]:
    """One gradient step. Pure: jit it with ``donate_argnums=0`` (see :func:`make_train_step`).

    ``accum_steps > 1`` splits the batch into that many micro-batches (example ``i`` goes
    to micro-batch ``i % accum_steps``, so each stays evenly split over a sharded batch
    axis), runs them one after another in a ``lax.scan`` and applies the mean gradient
    once: the update of the whole batch at the activation memory of one micro-batch.
    Model state such as BatchNorm statistics comes from the micro-batches in turn, as
    with accumulation in PyTorch. Micro-batch ``i`` uses ``fold_in(step_key, i)``.

    With ``state.loss_scale`` set (float16), the loss is scaled before differentiation
    and the gradients unscaled after; see :meth:`TrainState.apply_gradients`.

    Args:
      state: the :class:`TrainState`.
      batch: a mapping of ``(B, ...)`` arrays, as ``loss_fn`` expects.
      loss_fn: ``loss_fn(model, batch, *, train, key) -> (loss, metrics)``.
      accum_steps: micro-batches per step; ``B`` must be a multiple.

    Returns:
      ``(new_state, metrics)``: the updated state and ``loss_fn``'s metrics (means over
      the micro-batches), plus ``"skipped"`` under loss scaling.

    Raises:
      ValueError: ``accum_steps < 1`` or ``B`` not a multiple of it.
    """
    if accum_steps < 1:
        raise ValueError(f"accum_steps is {accum_steps}, expected a positive integer.")
    scaler = state.loss_scale

    def grads_of(model_state: nnx.State, micro: Batch, key: jax.Array):
        def objective(params, model_state):
            # copy=True makes fresh Variables at this trace level: NNX only lets BatchNorm
            # update a variable inside the trace that created it.
            model = nnx.merge(state.graphdef, params, model_state, copy=True)
            loss, metrics = loss_fn(model, micro, train=True, key=key)
            scaled = loss if scaler is None else scaler.scale(loss)
            return scaled, (metrics, nnx.state(model, nnx.Not(nnx.Param)))

        (_, (metrics, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, model_state
        )
        return grads, metrics, model_state

    if accum_steps == 1:
        grads, metrics, model_state = grads_of(state.model_state, batch, state.step_key())
    else:
        micro = jax.tree.map(lambda x: _micro_batches(x, accum_steps), batch)

        def body(carry, xs):
            total, model_state = carry
            i, mb = xs
            grads, metrics, model_state = grads_of(
                model_state, mb, jax.random.fold_in(state.step_key(), i)
            )
            return (jax.tree.map(jnp.add, total, grads), model_state), metrics

        zeros = jax.tree.map(jnp.zeros_like, state.params)
        (total, model_state), metrics = jax.lax.scan(
            body, (zeros, state.model_state), (jnp.arange(accum_steps), micro)
        )
        grads = jax.tree.map(lambda g: g / accum_steps, total)
        metrics = jax.tree.map(lambda m: m.mean(0), metrics)
    if scaler is not None:
        grads = scaler.unscale(grads)
        metrics = {**metrics, "skipped": 1.0 - all_finite(grads).astype(jnp.float32)}
    return state.apply_gradients(grads, model_state), metrics


def _micro_batches(x: jax.Array, n: int) -> jax.Array:
    """``(B, ...)`` to ``(n, B // n, ...)`` with example ``i`` in micro-batch ``i % n``."""
    if x.shape[0] % n:
        raise ValueError(
            f"batch has {x.shape[0]} examples, expected a multiple of accum_steps={n}."
        )
    return jnp.swapaxes(x.reshape(x.shape[0] // n, n, *x.shape[1:]), 0, 1)


def guarded_train_step(
    state: TrainState,
    batch: Batch,
    bad_step: jax.Array,
    *,
    loss_fn: LossFn,
    accum_steps: int = 1,
) -> tuple[TrainState, jax.Array, Metrics]:
    """:func:`train_step` that refuses to apply a non-finite update.

    ``bad_step`` is ``-1`` while all is well. The first step whose loss or new
    parameters are not finite records its step number there, and from then on every
    update is skipped, so a scan of these steps returns the last good state and tells
    the host where training broke.

    Args:
      state, batch, loss_fn, accum_steps: as in :func:`train_step`.
      bad_step: int32 scalar, ``-1`` or the first bad step so far.

    Returns:
      ``(state, bad_step, metrics)``; ``state`` is the input state when the update was
      dropped (the selection is :func:`jaxdl.training.state.select_update`).
    """
    new, metrics = train_step(state, batch, loss_fn=loss_fn, accum_steps=accum_steps)
    ok = jnp.isfinite(metrics["loss"]) & all_finite(new.params) & (bad_step < 0)
    bad_step = jnp.where(ok | (bad_step >= 0), bad_step, state.step)
    return select_update(ok, new, state), bad_step, metrics


def eval_step(state: TrainState, batch: Batch, where: jax.Array, *, eval_fn: EvalFn) -> Metrics:
    """Per-batch metric sums: ``eval_fn(model, batch, where)`` with the model of ``state``.

    ``eval_fn`` is responsible for calling the model in inference mode (as
    :func:`classifier_eval` does with ``train=False``).

    Args:
      state: the train state whose model (``state.model()``) is evaluated.
      batch: the batch, arrays of shape ``(B, ...)``.
      where: ``(B,)`` bool, ``False`` for padding examples.
      eval_fn: ``eval_fn(model, batch, where) -> dict`` of per-batch sums.

    Returns:
      What ``eval_fn`` returns: a dict of scalar sums over the valid examples.
    """
    return eval_fn(state.model(), batch, where)


def make_train_step(loss_fn: LossFn) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """``jax.jit`` of :func:`train_step` with the state donated, for a Python loop of steps.

    Prefer :func:`jaxdl.training.train`, which scans many steps per call; this is for
    notebooks and tests that step by hand.

    Args:
      loss_fn: ``loss_fn(model, batch, *, train, key) -> (loss, metrics)``.

    Returns:
      ``step(state, batch) -> (state, metrics)``.
    """

    def step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        return train_step(state, batch, loss_fn=loss_fn)

    return jax.jit(step, donate_argnums=0)
