"""Optimisers with the learning-rate schedules the recipes train with."""

from __future__ import annotations

import optax

from jaxdl.training.ema import track_ema

__all__ = ["WARMUP_COSINE_OPTIMIZERS", "warmup_adam_ema", "warmup_cosine_optimizer"]

WARMUP_COSINE_OPTIMIZERS = ("adamw", "adam", "sgd")


def warmup_cosine_optimizer(
    name: str = "adamw",
    *,
    learning_rate: float,
    num_steps: int,
    warmup_steps: int = 0,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    r"""AdamW, Adam or Nesterov SGD under linear warm-up and cosine decay to 0.

    The rate rises linearly from 0 to ``learning_rate`` over ``warmup_steps`` updates
    (capped at ``num_steps - 1``), then follows a cosine down to 0 at ``num_steps``
    (:func:`optax.warmup_cosine_decay_schedule`). Without warm-up it starts at
    ``learning_rate``.

    Args:
        name: ``"adamw"`` (decoupled ``weight_decay``), ``"adam"`` or ``"sgd"`` (momentum
            0.9, Nesterov).
        learning_rate: The peak rate.
        num_steps: Updates in the whole run (epochs times steps per epoch).
        warmup_steps: Updates of linear warm-up; 0 for none.
        weight_decay: AdamW's decoupled weight decay; ignored by the others.

    Returns:
        The optax transformation.

    Raises:
        ValueError: If ``name`` is not one of :data:`WARMUP_COSINE_OPTIMIZERS`, or
            ``num_steps`` is below 1, or ``warmup_steps`` is negative.

    Example:
      >>> tx = warmup_cosine_optimizer("adam", learning_rate=1e-3, num_steps=100)
      >>> import jax.numpy as jnp; _ = tx.init({"w": jnp.zeros(3)})
    """
    if name not in WARMUP_COSINE_OPTIMIZERS:
        raise ValueError(
            f"name is {name!r}, expected one of {', '.join(WARMUP_COSINE_OPTIMIZERS)}."
        )
    if num_steps < 1:
        raise ValueError(f"num_steps is {num_steps}, expected at least 1 update.")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps is {warmup_steps}, expected 0 or more.")
    warmup = min(warmup_steps, num_steps - 1)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0 if warmup else learning_rate, learning_rate, warmup, num_steps
    )
    if name == "adamw":
        return optax.adamw(schedule, weight_decay=weight_decay)
    if name == "adam":
        return optax.adam(schedule)
    return optax.sgd(schedule, momentum=0.9, nesterov=True)


def warmup_adam_ema(
    learning_rate: float,
    *,
    num_steps: int,
    warmup_steps: int = 0,
    grad_clip: float = 1.0,
    ema_decay: float = 0.999,
) -> optax.GradientTransformation:
    """Adam after gradient clipping, with linear warm-up, keeping an EMA of the weights.

    The diffusion models' optimiser (Ho et al. 2020): the global gradient norm is clipped
    to ``grad_clip``, the rate rises linearly from 0 over ``warmup_steps`` updates
    (capped at ``num_steps - 1``) and then stays at ``learning_rate``, and the
    exponential moving average of the updated weights is kept last in the state
    (:func:`jaxdl.training.track_ema`; read it with :func:`jaxdl.training.ema_params`).

    Args:
        learning_rate: The rate after warm-up.
        num_steps: Updates in the whole run; only caps the warm-up.
        warmup_steps: Updates of linear warm-up; 0 for a constant rate.
        grad_clip: The largest global gradient norm.
        ema_decay: The EMA's decay per update (after its own warm-up).

    Returns:
        The optax transformation.

    Raises:
        ValueError: If ``warmup_steps`` is negative or ``grad_clip`` not positive.
    """
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps is {warmup_steps}, expected 0 or more.")
    if grad_clip <= 0:
        raise ValueError(f"grad_clip is {grad_clip}, expected a positive gradient norm.")
    warmup = min(warmup_steps, max(num_steps - 1, 0))
    lr = optax.warmup_constant_schedule(0.0, learning_rate, warmup) if warmup else learning_rate
    return optax.chain(optax.clip_by_global_norm(grad_clip), optax.adam(lr), track_ema(ema_decay))
