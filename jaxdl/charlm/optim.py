"""The seed's optimiser: SGD whose step size drops once, with its hyperparameters
injected into the optimiser state so runs that differ in them can be vmapped."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxdl.training.ema import track_ema


def step_decay_sgd(
    learning_rate: float | jax.Array,
    decay_step: int | jax.Array,
    decay_factor: float | jax.Array = 0.1,
) -> optax.GradientTransformation:
    """Plain SGD whose step size drops from ``learning_rate`` to ``learning_rate *
    decay_factor`` at update ``decay_step`` (the seed: 0.1, then 0.01 after half the steps).

    Args:
      learning_rate: the step size before ``decay_step``.
      decay_step: the first update with the smaller step size.
      decay_factor: the factor of the step size from ``decay_step`` on.

    Returns:
      The optax transformation.
    """
    factor = lambda count: jnp.where(count < decay_step, 1.0, decay_factor)  # noqa: E731
    return optax.chain(optax.scale_by_schedule(factor), optax.scale(-learning_rate))


def step_decay_adamw(
    learning_rate: float | jax.Array,
    decay_step: int | jax.Array,
    decay_factor: float | jax.Array = 0.1,
    *,
    weight_decay: float = 0.01,
) -> optax.GradientTransformation:
    """AdamW (betas 0.9, 0.999) with :func:`step_decay_sgd`'s one drop of the step size;
    weight decay 0.01 as Karpathy's makemore transformer."""
    factor = lambda count: jnp.where(count < decay_step, 1.0, decay_factor)  # noqa: E731
    return optax.chain(
        optax.scale_by_adam(),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_schedule(factor),
        optax.scale(-learning_rate),
    )


_KINDS = {"sgd": step_decay_sgd, "adamw": step_decay_adamw}


def make_optimizer(
    learning_rate: float = 0.1,
    *,
    decay_step: int,
    decay_factor: float = 0.1,
    kind: str = "sgd",
    weight_decay: float | None = None,
    ema_decay: float = 0.0,
) -> optax.GradientTransformation:
    """:func:`step_decay_sgd` (``kind="sgd"``) or :func:`step_decay_adamw` (``"adamw"``)
    with its hyperparameters as arrays in the optimiser state (see
    :mod:`jaxdl.training.hyperparams`). ``weight_decay`` is AdamW's decoupled weight decay
    (``None``: :func:`step_decay_adamw`'s 0.01), a constant of the program rather than
    an injected array; SGD takes none. ``ema_decay > 0`` appends
    :func:`jaxdl.training.track_ema` (read the average with
    :func:`jaxdl.training.ema_params`).

    Example:
      >>> tx = make_optimizer(0.1, decay_step=10)
      >>> sorted(tx.init({"w": jnp.zeros(2)}).hyperparams)
      ['decay_factor', 'decay_step', 'learning_rate']
    """
    if kind not in _KINDS:
        raise ValueError(f"kind is {kind!r}, expected one of {tuple(_KINDS)}.")
    if weight_decay is not None and kind != "adamw":
        raise ValueError(f"weight_decay is {weight_decay}, expected None for kind {kind!r}.")
    constants = {} if weight_decay is None else {"weight_decay": weight_decay}

    # Only these three arguments are injected: the constants stay out of the signature.
    def make(learning_rate, decay_step, decay_factor):
        inner = _KINDS[kind](learning_rate, decay_step, decay_factor, **constants)
        return optax.chain(inner, track_ema(ema_decay)) if ema_decay else inner

    return optax.inject_hyperparams(make)(
        learning_rate=learning_rate, decay_step=decay_step, decay_factor=decay_factor
    )
