"""Classification losses, optax style: per-example, no hidden reduction."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank


def softmax_cross_entropy(
    logits: Float[ArrayLike, "... classes"],
    labels: Int[ArrayLike, "..."],
    *,
    label_smoothing: float = 0.0,
    where: ArrayLike | None = None,
) -> Float[Array, "..."]:
    r"""Cross-entropy between integer labels and the softmax of ``logits``.

    .. math::
        \ell_i = -\sum_c q_{ic} \log \operatorname{softmax}(z_i)_c,\qquad
        q_{ic} = (1 - \varepsilon)\,[c = y_i] + \varepsilon / C

    With ``label_smoothing`` :math:`\varepsilon = 0` this is optax's
    ``softmax_cross_entropy_with_integer_labels``, which it calls.

    Args:
      logits: unnormalised scores, shape ``(..., C)``.
      labels: integer class indices in ``[0, C)``, shape ``(...)``.
      label_smoothing: :math:`\varepsilon \in [0, 1)`; mass spread uniformly over classes.
      where: optional boolean mask of shape ``(...)``; masked-out examples get loss 0.

    Returns:
      Per-example loss, shape ``(...)``.

    Raises:
      ValueError: if the shapes do not agree.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdl.losses import softmax_cross_entropy
      >>> softmax_cross_entropy(jnp.array([[0.0, 0.0]]), jnp.array([1])).round(4)
      Array([0.6931], dtype=float32)
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    check_rank("logits", logits, min_rank=1)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"labels has shape {labels.shape}, expected logits.shape[:-1] = {logits.shape[:-1]}."
        )
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing is {label_smoothing}, expected a value in [0, 1).")
    if label_smoothing == 0.0:
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    else:
        num_classes = logits.shape[-1]
        targets = optax.smooth_labels(jax.nn.one_hot(labels, num_classes), label_smoothing)
        loss = optax.softmax_cross_entropy(logits, targets)
    if where is not None:
        loss = jnp.where(jnp.asarray(where), loss, 0.0)
    return loss
