"""Training a character-level language model as compiled chunks of a ``lax.scan``.

Minibatches are drawn with replacement, as in the seed: step ``s`` gathers
``batch_size`` random windows chosen by ``fold_in(fold_in(key, s), 1)``. The randomness of
a step depends only on the run's key and the step number, so a run cut into chunks, a
run resumed from a checkpoint and a row of a vmapped sweep all take the same steps.

Every hyperparameter that keeps shapes (learning rate, decay step and factor) lives in
the optimiser state as an array (``optax.inject_hyperparams``), so a stack of train
states with different values can be vmapped through one compiled program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxdl.losses import softmax_cross_entropy
from jaxdl.training.epoch import make_evaluator, num_examples, take
from jaxdl.training.state import TrainState
from jaxdl.training.step import Batch, Metrics, guarded_train_step

Data = Mapping[str, jax.Array]


def step_decay_sgd(
    learning_rate: float | jax.Array,
    decay_step: int | jax.Array,
    decay_factor: float | jax.Array = 0.1,
) -> optax.GradientTransformation:
    """Plain SGD whose step size drops from ``learning_rate`` to ``learning_rate *
    decay_factor`` at update ``decay_step`` (the seed: 0.1, then 0.01 after half the steps).
    """
    factor = lambda count: jnp.where(count < decay_step, 1.0, decay_factor)  # noqa: E731
    return optax.chain(optax.scale_by_schedule(factor), optax.scale(-learning_rate))


def make_optimizer(
    learning_rate: float = 0.1, *, decay_step: int, decay_factor: float = 0.1
) -> optax.GradientTransformation:
    """:func:`step_decay_sgd` with its hyperparameters as arrays in the optimiser state."""
    return optax.inject_hyperparams(step_decay_sgd)(
        learning_rate=learning_rate, decay_step=decay_step, decay_factor=decay_factor
    )


def hyperparams(state: TrainState) -> dict[str, jax.Array]:
    """The injected hyperparameters of ``state``'s optimiser."""
    return dict(state.opt_state.hyperparams)


def with_hyperparams(state: TrainState, **values: Any) -> TrainState:
    """``state`` with some injected hyperparameters replaced (dtypes are kept)."""
    old = state.opt_state.hyperparams
    unknown = sorted(set(values) - set(old))
    if unknown:
        raise ValueError(f"Unknown hyperparameters {unknown}; the optimiser has {sorted(old)}.")
    new = {k: jnp.asarray(values[k], old[k].dtype) if k in values else v for k, v in old.items()}
    return state.replace(opt_state=state.opt_state._replace(hyperparams=new))


def lm_loss(
    model: Any, batch: Batch, *, train: bool, key: jax.Array | None
) -> tuple[jax.Array, Metrics]:
    """Mean next-character cross-entropy of ``model(batch["x"])`` against ``batch["y"]``."""
    logits = model(batch["x"], train=train, key=key)
    loss = softmax_cross_entropy(logits, batch["y"]).mean()
    return loss, {"loss": loss}


def lm_eval(model: Any, batch: Batch, where: jax.Array) -> Metrics:
    """Sum of the cross-entropy over the valid windows (for ``make_evaluator``)."""
    logits = model(batch["x"], train=False, key=None)
    return {"loss": softmax_cross_entropy(logits, batch["y"], where=where).sum()}


def create_state(
    model_fn: Callable[[nnx.Rngs], nnx.Module],
    tx: optax.GradientTransformation,
    key: jax.Array,
) -> TrainState:
    """A train state whose model is ``model_fn(rngs=nnx.Rngs(params=init_key))``.

    ``key`` is split into the initialisation key and the run key, so one key fixes the
    whole run. Works under ``jax.vmap`` over ``key``.
    """
    init_key, run_key = jax.random.split(key)
    return TrainState.create(model_fn(rngs=nnx.Rngs(params=init_key)), tx, key=run_key)


def minibatch_indices(key: jax.Array, step: jax.Array, num: int, batch_size: int) -> jax.Array:
    """The ``(batch_size,)`` window indices (with replacement) of step ``step`` of the run
    whose key is ``key``: they depend only on the run key and the step number."""
    return jax.random.randint(
        jax.random.fold_in(jax.random.fold_in(key, step), 1), (batch_size,), 0, num
    )


def draw_minibatch(state: TrainState, data: Data, batch_size: int) -> dict[str, jax.Array]:
    """The ``batch_size`` windows of ``state``'s current step (:func:`minibatch_indices`)."""
    return take(data, minibatch_indices(state.key, state.step, num_examples(data), batch_size))


def train_steps(
    state: TrainState, data: Data, *, num_steps: int, batch_size: int, unroll: int = 1
) -> tuple[TrainState, jax.Array, jax.Array]:
    """``num_steps`` minibatch steps in one ``lax.scan``; pure and vmappable over ``state``.

    Returns ``(state, losses, bad_step)``: the per-step training losses ``(num_steps,)``
    and ``-1`` or the first step whose loss or parameters were not finite (updates stop
    there; see :func:`jaxdl.training.step.guarded_train_step`).

    The indices of every step are drawn up front in one vectorised call (the same draws
    as step by step), and ``unroll`` steps share one loop iteration: for a model this
    small the per-step cost is mostly loop and RNG overhead (see :func:`make_trainer`).
    """
    n = num_examples(data)
    steps = state.step + jnp.arange(num_steps)
    indices = jax.vmap(lambda s: minibatch_indices(state.key, s, n, batch_size))(steps)

    def body(carry, idx):
        state, bad_step = carry
        state, bad_step, metrics = guarded_train_step(
            state, take(data, idx), bad_step, loss_fn=lm_loss
        )
        return (state, bad_step), metrics["loss"]

    (state, bad_step), losses = jax.lax.scan(
        body, (state, jnp.int32(-1)), indices, unroll=min(unroll, max(num_steps, 1))
    )
    return state, losses, bad_step


def make_trainer(
    *, num_steps: int, batch_size: int, vmapped: bool = False, unroll: int | None = None
) -> Callable[[TrainState, Data], tuple[TrainState, jax.Array, jax.Array]]:
    """A jitted :func:`train_steps` with the state donated; ``vmapped`` maps over a
    stack of states (leading axis) that share the data.

    ``unroll=None`` unrolls 8 steps per loop iteration for chunks of at least 1,000 steps
    and none for shorter ones: on a 2-core CPU unrolling makes the default MLP's chunks
    about 10% faster but doubles the compile time, which only long chunks pay back.
    """
    if unroll is None:
        unroll = 8 if num_steps >= 1000 else 1
    fn = partial(train_steps, num_steps=num_steps, batch_size=batch_size, unroll=unroll)
    if vmapped:
        fn = jax.vmap(fn, in_axes=(0, None))
    return jax.jit(fn, donate_argnums=0)


def make_split_evaluator(*, batch_size: int = 8192, vmapped: bool = False):
    """``evaluate(state, data) -> mean loss`` over a whole split, batch by batch."""
    evaluate = make_evaluator(lm_eval, batch_size)
    fn = lambda state, data: evaluate(state, data)["loss"]  # noqa: E731
    return jax.jit(jax.vmap(fn, in_axes=(0, None)) if vmapped else fn)


def as_device_data(windows: Any) -> dict[str, jax.Array]:
    """``{"x", "y"}`` device arrays from a :class:`jaxdl.data.names.Windows`."""
    return {"x": jnp.asarray(np.asarray(windows.x)), "y": jnp.asarray(np.asarray(windows.y))}
