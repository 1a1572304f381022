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
from jaxdl.training.state import TrainState

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
    """Mean softmax cross-entropy of ``model(batch["image"])`` against ``batch["label"]``."""
    logits = model(batch["image"], train=train, key=key)
    loss = softmax_cross_entropy(logits, batch["label"], label_smoothing=label_smoothing).mean()
    return loss, {"loss": loss, "accuracy": accuracy(logits, batch["label"]).mean()}


def classifier_eval(model: Any, batch: Batch, where: jax.Array) -> Metrics:
    """Sums of loss and correct predictions over the valid (``where``) examples."""
    logits = model(batch["image"], train=False, key=None)
    labels = batch["label"]
    return {
        "loss": softmax_cross_entropy(logits, labels, where=where).sum(),
        "accuracy": accuracy(logits, labels, where=where).sum(),
    }


def train_step(state: TrainState, batch: Batch, *, loss_fn: LossFn) -> tuple[TrainState, Metrics]:
    """One gradient step. Pure: jit it with ``donate_argnums=0`` (see :func:`make_train_step`)."""

    def objective(
        params: nnx.State, model_state: nnx.State
    ) -> tuple[jax.Array, tuple[Metrics, nnx.State]]:
        # copy=True makes fresh Variables at this trace level: NNX only lets BatchNorm
        # update a variable inside the trace that created it.
        model = nnx.merge(state.graphdef, params, model_state, copy=True)
        loss, metrics = loss_fn(model, batch, train=True, key=state.step_key())
        return loss, (metrics, nnx.state(model, nnx.Not(nnx.Param)))

    (_, (metrics, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(
        state.params, state.model_state
    )
    return state.apply_gradients(grads, model_state), metrics


def guarded_train_step(
    state: TrainState, batch: Batch, bad_step: jax.Array, *, loss_fn: LossFn
) -> tuple[TrainState, jax.Array, Metrics]:
    """:func:`train_step` that refuses to apply a non-finite update.

    ``bad_step`` is ``-1`` while all is well. The first step whose loss or new
    parameters are not finite records its step number there, and from then on every
    update is skipped, so a scan of these steps returns the last good state and tells
    the host where training broke.
    """
    new, metrics = train_step(state, batch, loss_fn=loss_fn)
    ok = jnp.isfinite(metrics["loss"]) & all_finite(new.params) & (bad_step < 0)
    bad_step = jnp.where(ok | (bad_step >= 0), bad_step, state.step)
    # Select leaf by leaf (the key never changes) so a bad step leaves no trace.
    keep = lambda a, b: jnp.where(ok, a, b)  # noqa: E731
    state = state.replace(
        params=jax.tree.map(keep, new.params, state.params),
        model_state=jax.tree.map(keep, new.model_state, state.model_state),
        opt_state=jax.tree.map(keep, new.opt_state, state.opt_state),
        step=keep(new.step, state.step),
    )
    return state, bad_step, metrics


def eval_step(state: TrainState, batch: Batch, where: jax.Array, *, eval_fn: EvalFn) -> Metrics:
    """Per-batch metric sums of the model in inference mode."""
    return eval_fn(state.model(), batch, where)


def make_train_step(loss_fn: LossFn) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """``jax.jit`` of :func:`train_step` with the state donated, for a Python loop of steps."""

    def step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        return train_step(state, batch, loss_fn=loss_fn)

    return jax.jit(step, donate_argnums=0)


def all_finite(tree: Any) -> jax.Array:
    """``True`` when every floating leaf of ``tree`` is finite."""
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)
