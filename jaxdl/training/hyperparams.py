"""Hyperparameters kept as arrays in the optimiser state (``optax.inject_hyperparams``).

An optimiser built by ``optax.inject_hyperparams(make)(**values)`` keeps ``values`` as
arrays in its state instead of constants in the compiled program. A stack of train
states that differ only in those values (learning rate, decay step, ...) is then
trained by one vmapped program, and a learning-rate finder can set the rate step by
step inside one ``lax.scan``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.training.state import TrainState


def _injected(state: TrainState) -> dict[str, jax.Array]:
    hyper = getattr(state.opt_state, "hyperparams", None)
    if hyper is None:
        raise TypeError(
            f"state.opt_state is a {type(state.opt_state).__name__}, expected the state of "
            "an optimiser built by optax.inject_hyperparams (it has no hyperparams)."
        )
    return hyper


def hyperparams(state: TrainState) -> dict[str, jax.Array]:
    """The injected hyperparameters of ``state``'s optimiser.

    Args:
      state: a train state whose optimiser comes from ``optax.inject_hyperparams``.

    Returns:
      ``{name: array}`` (a copy; changing it does not change ``state``).

    Raises:
      TypeError: the optimiser has no injected hyperparameters.

    Example:
      >>> import optax
      >>> from flax import nnx
      >>> tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
      >>> state = TrainState.create(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), tx, key=jax.random.key(0))
      >>> float(hyperparams(with_hyperparams(state, learning_rate=0.5))["learning_rate"])
      0.5
    """
    return dict(_injected(state))


def with_hyperparams(state: TrainState, **values: Any) -> TrainState:
    """``state`` with some injected hyperparameters replaced (their dtypes are kept).

    Works on one state and, under ``jax.vmap``, on a stack of them.

    Args:
      state: a train state whose optimiser comes from ``optax.inject_hyperparams``.
      **values: new values by hyperparameter name.

    Returns:
      The new state; ``state`` itself is unchanged.

    Raises:
      TypeError: the optimiser has no injected hyperparameters.
      ValueError: a name in ``values`` is not one of them.
    """
    old = _injected(state)
    unknown = sorted(set(values) - set(old))
    if unknown:
        raise ValueError(
            f"values names {unknown}, expected hyperparameters of the optimiser: {sorted(old)}."
        )
    new = {k: jnp.asarray(values[k], old[k].dtype) if k in values else v for k, v in old.items()}
    return state.replace(opt_state=state.opt_state._replace(hyperparams=new))
