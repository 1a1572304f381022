"""Sequence losses, optax style: per-sequence values, no hidden reduction."""

from __future__ import annotations

import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank


def _paddings(lengths: jnp.ndarray, width: int) -> jnp.ndarray:
    return (jnp.arange(width)[None, :] >= lengths[:, None]).astype(jnp.float32)


def ctc_loss(
    logits: Float[ArrayLike, " batch time classes"],
    logit_lengths: Int[ArrayLike, " batch"],
    labels: Int[ArrayLike, " batch max_labels"],
    label_lengths: Int[ArrayLike, " batch"],
    *,
    blank_id: int = 0,
) -> Float[Array, " batch"]:
    r"""Connectionist temporal classification loss (Graves et al. 2006) per sequence.

    .. math::
        \ell_b = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_b)} \prod_t
        \operatorname{softmax}(z_{bt})_{\pi_t}

    where :math:`\mathcal{B}` collapses repeats and then removes blanks: the probability of
    the label sequence summed over every frame-level alignment that spells it. Computed by
    ``optax.ctc_loss`` (a forward recursion in log space); this wrapper takes lengths
    instead of optax's 0/1 paddings and checks the shapes.

    Args:
      logits: unnormalised per-frame scores, shape ``(B, T, K)`` with the blank among K.
      logit_lengths: valid frames per sequence, ``(B,)``; frames beyond are ignored.
      labels: label ids (never ``blank_id``) padded to ``(B, N)``.
      label_lengths: valid labels per sequence, ``(B,)``.
      blank_id: the class index of the blank.

    Returns:
      Negative log-likelihood per sequence, shape ``(B,)``.

    Example:
      >>> import jax.numpy as jnp
      >>> logits = jnp.log(jnp.array([[[0.1, 0.9], [0.9, 0.1]]]))  # frames: "1" then blank
      >>> round(float(ctc_loss(logits, jnp.array([2]), jnp.array([[1]]), jnp.array([1]))[0]), 4)
      0.0943
    """
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    logit_lengths, label_lengths = jnp.asarray(logit_lengths), jnp.asarray(label_lengths)
    check_rank("logits", logits, rank=3)
    check_rank("labels", labels, rank=2)
    b = logits.shape[0]
    for name, v in (("labels", labels), ("logit_lengths", logit_lengths),
                    ("label_lengths", label_lengths)):  # fmt: skip
        if v.shape[0] != b:
            raise ValueError(f"{name} has shape {v.shape}, expected batch size {b} first.")
    return optax.ctc_loss(
        logits,
        _paddings(logit_lengths, logits.shape[1]),
        labels,
        _paddings(label_lengths, labels.shape[1]),
        blank_id=blank_id,
    )


def masked_prediction_loss(
    logits: Float[ArrayLike, " batch time classes"],
    targets: Int[ArrayLike, " batch time"],
    mask: ArrayLike,
) -> Float[Array, " batch"]:
    r"""HuBERT's masked prediction loss: cross-entropy on the masked frames only.

    .. math::
        \ell_b = \frac{1}{|M_b|} \sum_{t \in M_b}
        -\log \operatorname{softmax}(z_{bt})_{y_{bt}}

    where :math:`M_b` is the set of frames of sequence ``b`` whose input was replaced by
    the mask embedding and :math:`y_{bt}` the frame's target (a k-means cluster id in
    HuBERT). Unmasked frames, padding included, contribute nothing, so the model is only
    rewarded for inferring hidden frames from their context. A sequence without masked
    frames gets loss 0.

    Args:
      logits: unnormalised per-frame scores over the targets, shape ``(B, T, K)``.
      targets: integer target per frame in ``[0, K)``, shape ``(B, T)``.
      mask: boolean ``(B, T)``, true on the masked frames.

    Returns:
      Mean cross-entropy over each sequence's masked frames, shape ``(B,)``.

    Raises:
      ValueError: if the shapes disagree.

    Example:
      >>> import jax.numpy as jnp
      >>> logits = jnp.log(jnp.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]]))
      >>> masked_prediction_loss(logits, jnp.array([[0, 0, 0]]),
      ...                        jnp.array([[False, True, False]])).round(4)
      Array([0.1054], dtype=float32)
    """
    logits, targets, mask = jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(mask)
    check_rank("logits", logits, rank=3)
    for name, v in (("targets", targets), ("mask", mask)):
        if v.shape != logits.shape[:2]:
            raise ValueError(
                f"{name} has shape {v.shape}, expected logits.shape[:2] = {logits.shape[:2]}."
            )
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)  # (B, T)
    mask = mask.astype(ce.dtype)
    return jnp.sum(ce * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1.0)
