"""Evaluation metrics, per-example like the losses so they can be masked and summed."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank


def accuracy(
    logits: Float[ArrayLike, "... classes"],
    labels: Int[ArrayLike, "..."],
    *,
    where: ArrayLike | None = None,
) -> Float[Array, "..."]:
    """Per-example top-1 correctness, ``1.0`` where ``argmax(logits) == labels``.

    Take ``.mean()`` for the accuracy of a batch; with ``where`` the masked-out examples
    count as ``0`` so ``sum / where.sum()`` gives the accuracy of the valid ones.

    Args:
      logits: scores, shape ``(..., C)``.
      labels: integer class indices, shape ``(...)``.
      where: optional boolean mask of shape ``(...)``.

    Returns:
      Float32 array of shape ``(...)`` with values in ``{0, 1}``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdl.metrics import accuracy
      >>> accuracy(jnp.array([[0.1, 0.9], [0.8, 0.2]]), jnp.array([1, 1]))
      Array([1., 0.], dtype=float32)
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    check_rank("logits", logits, min_rank=1)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"labels has shape {labels.shape}, expected logits.shape[:-1] = {logits.shape[:-1]}."
        )
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    if where is not None:
        correct = jnp.where(jnp.asarray(where), correct, 0.0)
    return correct
