"""Metric-learning losses for siamese networks: triplet margin and its batch-hard form."""

from __future__ import annotations

import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank, check_same_shape


def _safe_norm(x: jnp.ndarray, axis: int = -1) -> jnp.ndarray:
    # sqrt has an infinite gradient at 0 (identical embeddings): floor the squared norm.
    return jnp.sqrt(jnp.maximum(jnp.sum(x * x, axis=axis), 1e-12))


def triplet_margin_loss(
    anchor: Float[ArrayLike, "... d"],
    positive: Float[ArrayLike, "... d"],
    negative: Float[ArrayLike, "... d"],
    *,
    margin: float = 0.2,
) -> Float[Array, "..."]:
    r"""Triplet loss (Schroff et al. 2015) per triplet, with Euclidean distances.

    .. math:: \ell = \max(0,\ \lVert a - p \rVert - \lVert a - n \rVert + m)

    The anchor must be nearer to the positive (same class) than to the negative by at
    least the margin ``m``. Computed by ``optax.losses.triplet_margin_loss`` (which adds
    a tiny epsilon inside the norms so the gradient stays finite at zero distance).

    Example:
      >>> import jax.numpy as jnp
      >>> a, p, n = jnp.zeros((1, 2)), jnp.array([[0.0, 0.1]]), jnp.array([[0.0, 0.2]])
      >>> round(float(triplet_margin_loss(a, p, n, margin=0.2)[0]), 4)
      0.1
    """
    a, p, n = (jnp.asarray(v) for v in (anchor, positive, negative))
    check_rank("anchor", a, min_rank=1)
    check_same_shape("positive", p, "anchor", a)
    check_same_shape("negative", n, "anchor", a)
    return optax.losses.triplet_margin_loss(a, p, n, margin=margin)


def batch_hard_triplet_loss(
    embeddings: Float[ArrayLike, " batch d"],
    labels: Int[ArrayLike, " batch"],
    *,
    margin: float = 0.2,
) -> Float[Array, " batch"]:
    r"""Batch-hard triplet loss (Hermans et al. 2017), one value per anchor.

    For each anchor, the hardest positive (farthest same-label example) and the hardest
    negative (nearest other-label example) in the batch form its triplet. Anchors with no
    positive or no negative in the batch get loss 0. Sample batches as P classes x K
    examples so every anchor has both.

    Example:
      >>> import jax.numpy as jnp
      >>> e = jnp.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.5], [0.0, 3.0]])
      >>> loss = batch_hard_triplet_loss(e, jnp.array([0, 0, 1, 1]), margin=0.1)
      >>> [round(v, 3) for v in loss.tolist()]
      [0.6, 0.6, 2.1, 0.6]
    """
    e, y = jnp.asarray(embeddings), jnp.asarray(labels)
    check_rank("embeddings", e, rank=2)
    check_rank("labels", y, rank=1)
    if y.shape[0] != e.shape[0]:
        raise ValueError(f"labels has shape {y.shape}, expected ({e.shape[0]},) like embeddings.")
    dist = _safe_norm(e[:, None, :] - e[None, :, :])  # (B, B)
    same = y[:, None] == y[None, :]
    eye = jnp.eye(y.shape[0], dtype=bool)
    pos = jnp.where(same & ~eye, dist, -jnp.inf).max(axis=1)
    neg = jnp.where(~same, dist, jnp.inf).min(axis=1)
    valid = jnp.isfinite(pos) & jnp.isfinite(neg)
    return jnp.where(valid, jnp.maximum(pos - neg + margin, 0.0), 0.0)


def pairwise_contrastive_loss(
    embeddings: Float[ArrayLike, " batch d"],
    labels: Int[ArrayLike, " batch"],
    *,
    margin: float = 1.0,
) -> Float[Array, " batch"]:
    r"""Contrastive loss (Hadsell, Chopra & LeCun 2006) over all pairs, mean per anchor.

    .. math::
        \ell_i = \frac{1}{B - 1} \sum_{j \ne i} [y_i = y_j]\, d_{ij}^2
        + [y_i \ne y_j]\, \max(0, m - d_{ij})^2

    Same-label pairs are pulled together; different-label pairs are pushed apart until
    they are ``margin`` away. Unlike the batch-hard triplet loss every pair contributes,
    which keeps the embedding from collapsing early in training.

    Example:
      >>> import jax.numpy as jnp
      >>> e = jnp.array([[0.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
      >>> loss = pairwise_contrastive_loss(e, jnp.array([0, 0, 1]), margin=2.0)
      >>> [round(v, 3) for v in loss.tolist()]
      [0.5, 0.5, 0.0]
    """
    e, y = jnp.asarray(embeddings), jnp.asarray(labels)
    check_rank("embeddings", e, rank=2)
    check_rank("labels", y, rank=1)
    if y.shape[0] != e.shape[0]:
        raise ValueError(f"labels has shape {y.shape}, expected ({e.shape[0]},) like embeddings.")
    dist = _safe_norm(e[:, None, :] - e[None, :, :])
    same = y[:, None] == y[None, :]
    eye = jnp.eye(y.shape[0], dtype=bool)
    terms = jnp.where(same, dist**2, jnp.maximum(margin - dist, 0.0) ** 2)
    return jnp.sum(jnp.where(eye, 0.0, terms), axis=1) / max(y.shape[0] - 1, 1)
