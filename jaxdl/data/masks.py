"""Masks for in-painting: a square patch near the image centre, drawn with explicit keys."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def random_patch_mask(
    key: jax.Array,
    batch: int,
    *,
    size: int = 6,
    image_size: int = 28,
    jitter: int = 4,
) -> Float[Array, "batch image_size image_size 1"]:
    """One ``size x size`` patch of ones per image, its corner within ``jitter`` pixels of
    the centred position (uniformly, per image). The seed drew these with numpy's global
    RNG; here ``key`` decides, so a batch of masks is reproducible and jit-friendly.

    Example:
      >>> import jax
      >>> m = random_patch_mask(jax.random.key(0), 3)
      >>> m.shape, m.sum((1, 2, 3)).tolist()
      ((3, 28, 28, 1), [36.0, 36.0, 36.0])
    """
    if not 0 < size <= image_size:
        raise ValueError(f"size is {size}, expected 1 <= size <= image_size ({image_size}).")
    centre = (image_size - size) // 2
    lo, hi = max(centre - jitter, 0), min(centre + jitter, image_size - size)
    corners = jax.random.randint(key, (batch, 2), lo, hi + 1)  # (B, 2): row, column
    idx = jnp.arange(image_size)
    rows = (idx[None] >= corners[:, :1]) & (idx[None] < corners[:, :1] + size)
    cols = (idx[None] >= corners[:, 1:]) & (idx[None] < corners[:, 1:] + size)
    return (rows[:, :, None] & cols[:, None, :]).astype(jnp.float32)[..., None]
