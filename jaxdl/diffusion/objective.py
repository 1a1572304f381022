r"""Training a noise-predicting network: the pixel ranges and Ho et al.'s simple loss.

A denoiser here is ``model(x_t, t, labels, *, train=False, key=None)`` returning the
predicted noise :math:`\hat\epsilon`, the call signature of :class:`jaxdl.nn.unet.UNet`.
Batches hold uint8 grey images ``batch["image"]`` ``(B, H, W)`` and int labels
``batch["label"]`` ``(B,)``; :func:`to_model_space` maps the images to ``[-1, 1]``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxdl.diffusion.schedule import Schedule, q_sample
from jaxdl.losses import epsilon_loss

__all__ = ["diffusion_eval", "diffusion_loss", "to_model_space", "to_unit"]


def to_model_space(images: jax.Array) -> Float[Array, "batch height width 1"]:
    """uint8 grey images ``(B, H, W)`` -> float32 ``(B, H, W, 1)`` in ``[-1, 1]``.

    Args:
        images: ``(B, H, W)`` pixels in 0..255.

    Returns:
        ``images / 127.5 - 1`` with a channel axis, the range the diffusion works in.

    Raises:
        ValueError: If ``images`` is not of rank 3.

    Example:
      >>> to_model_space(jnp.array([[[0, 255]]], jnp.uint8)).ravel().tolist()
      [-1.0, 1.0]
    """
    if images.ndim != 3:
        raise ValueError(
            f"images has shape {tuple(images.shape)}, expected (batch, height, width)."
        )
    return images.astype(jnp.float32)[..., None] / 127.5 - 1.0


def to_unit(x: jax.Array) -> jax.Array:
    """Samples in ``[-1, 1]`` -> ``[0, 1]`` for pictures, clipped; any shape.

    Example:
      >>> to_unit(jnp.array([-2.0, 0.0, 1.0])).tolist()
      [0.0, 0.5, 1.0]
    """
    return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)


def diffusion_loss(
    model: Any,
    batch: dict[str, jax.Array],
    *,
    train: bool,
    key: jax.Array,
    schedule: Schedule,
    p_uncond: float,
    null_label: int,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    r"""Ho et al.'s (2020) simple loss on a batch, with label dropout for guidance.

    Draws :math:`t \sim U\{0, T-1\}` and :math:`\epsilon \sim N(0, I)` per example,
    noises :math:`x_0` with :func:`~jaxdl.diffusion.q_sample` and returns the mean of
    :math:`\|\epsilon - \hat\epsilon(x_t, t, y)\|^2` (:func:`jaxdl.losses.epsilon_loss`).
    Each label is replaced by ``null_label`` with probability ``p_uncond``, so the same
    network learns the unconditional model classifier-free guidance needs (Ho &
    Salimans 2022). The signature is a :func:`jaxdl.training.fit` loss.

    Args:
        model: The denoiser ``model(x_t, t, labels, *, train, key)``.
        batch: ``{"image": uint8 (B, H, W), "label": int (B,)}``.
        train: Training mode (dropout on).
        key: Randomness of ``t``, the noise, the label dropout and the model's dropout.
        schedule: The noise schedule.
        p_uncond: Probability of dropping a label.
        null_label: The label meaning "no class" (the number of classes).

    Returns:
        ``(loss, {"loss": loss})`` with a scalar mean loss.
    """
    x0 = to_model_space(batch["image"])
    b = x0.shape[0]
    k_t, k_noise, k_drop, k_model = jax.random.split(key, 4)
    t = jax.random.randint(k_t, (b,), 0, schedule.num_timesteps)
    noise = jax.random.normal(k_noise, x0.shape)
    drop = jax.random.bernoulli(k_drop, p_uncond, (b,))
    labels = jnp.where(drop, null_label, batch["label"])
    eps = model(q_sample(schedule, x0, t, noise), t, labels, train=train, key=k_model)
    loss = epsilon_loss(eps, noise).mean()
    return loss, {"loss": loss}


def diffusion_eval(
    model: Any,
    batch: dict[str, jax.Array],
    where: jax.Array,
    *,
    schedule: Schedule,
    key: jax.Array,
) -> dict[str, jax.Array]:
    """The summed conditional loss of :func:`diffusion_loss` on a fixed draw.

    ``t`` and the noise come from ``key`` alone, so every evaluation of the same images
    sees the same draw and test losses are comparable across epochs. The signature is a
    :func:`jaxdl.training.make_evaluator` evaluation function.

    Args:
        model: The denoiser ``model(x_t, t, labels)`` (evaluation mode).
        batch: ``{"image": uint8 (B, H, W), "label": int (B,)}``.
        where: ``(B,)`` mask of the real (not padding) examples.
        schedule: The noise schedule.
        key: The fixed key of ``t`` and the noise.

    Returns:
        ``{"loss": sum of the per-example losses where ``where``}``.
    """
    x0 = to_model_space(batch["image"])
    k_t, k_noise = jax.random.split(key)
    t = jax.random.randint(k_t, x0.shape[:1], 0, schedule.num_timesteps)
    noise = jax.random.normal(k_noise, x0.shape)
    eps = model(q_sample(schedule, x0, t, noise), t, batch["label"])
    return {"loss": jnp.sum(epsilon_loss(eps, noise) * where)}
