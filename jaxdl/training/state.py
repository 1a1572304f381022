"""The functional train state: an NNX model split into graph and arrays, plus optax state."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct


class TrainState(struct.PyTreeNode):
    """Everything a training step reads and writes, as one pytree of arrays.

    The module structure (``graphdef``) and the optimiser (``tx``) are static; the
    trainable ``params``, the other model variables (``model_state``: BatchNorm
    statistics, ...), the optimiser state, the step counter and the base PRNG key are
    leaves, so the whole state can be donated to ``jax.jit`` and checkpointed.

    The key is never split in place: step ``s`` uses ``jax.random.fold_in(key, s)``, so
    a resumed run draws the same randomness as an uninterrupted one.
    """

    graphdef: nnx.GraphDef = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)
    params: nnx.State
    model_state: nnx.State
    opt_state: optax.OptState
    step: jax.Array
    key: jax.Array
    # A jaxdl.parallel.DynamicLossScale for float16 training, else None (no scaling).
    loss_scale: Any = None

    @classmethod
    def create(
        cls,
        model: nnx.Module,
        tx: optax.GradientTransformation,
        *,
        key: jax.Array,
        loss_scale: Any = None,
    ) -> TrainState:
        """Splits ``model`` once and initialises the optimiser on its parameters."""
        graphdef, params, model_state = nnx.split(model, nnx.Param, ...)
        return cls(
            graphdef=graphdef,
            tx=tx,
            params=params,
            model_state=model_state,
            opt_state=tx.init(params),
            step=jnp.zeros((), jnp.int32),
            key=key,
            loss_scale=loss_scale,
        )

    def model(self) -> Any:
        """A fresh NNX module holding this state's variables (cheap inside ``jit``)."""
        return nnx.merge(self.graphdef, self.params, self.model_state, copy=True)

    @property
    def num_params(self) -> int:
        """The number of trainable parameters (of all runs, for a stack of states)."""
        return sum(math.prod(x.shape) for x in jax.tree.leaves(self.params))

    def step_key(self) -> jax.Array:
        """The PRNG key of the current step."""
        return jax.random.fold_in(self.key, self.step)

    def apply_gradients(self, grads: nnx.State, model_state: nnx.State) -> TrainState:
        """One optimiser update; also stores the model state the forward pass produced.

        Under float16 loss scaling the gradients arrive unscaled; if any is not finite
        the update is skipped (parameters, model and optimiser state unchanged) and the
        scale backs off. The step counter advances either way, so the next step draws
        fresh randomness.
        """
        updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
        new = self.replace(
            params=optax.apply_updates(self.params, updates),
            model_state=model_state,
            opt_state=opt_state,
            step=self.step + 1,
        )
        if self.loss_scale is None:
            return new
        finite = all_finite(grads)
        kept = select_update(finite, new, self).replace(step=new.step)
        return kept.replace(loss_scale=self.loss_scale.adjust(finite))


def select_update(ok: jax.Array, new: TrainState, old: TrainState) -> TrainState:
    """``new`` where ``ok``, else ``old``: the one place an update is kept or dropped.

    Selects leaf by leaf (parameters, model and optimiser state, step, loss scale; the
    key never changes), so a dropped update leaves no trace in the state.
    """
    keep = lambda a, b: jnp.where(ok, a, b)  # noqa: E731
    return old.replace(
        params=jax.tree.map(keep, new.params, old.params),
        model_state=jax.tree.map(keep, new.model_state, old.model_state),
        opt_state=jax.tree.map(keep, new.opt_state, old.opt_state),
        step=keep(new.step, old.step),
        loss_scale=jax.tree.map(keep, new.loss_scale, old.loss_scale),
    )


def all_finite(tree: Any) -> jax.Array:
    """``True`` when every floating leaf of ``tree`` is finite."""
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)
