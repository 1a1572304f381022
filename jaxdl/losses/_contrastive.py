r"""Contrastive and metric-learning losses: SimCLR's NT-Xent, supervised contrastive, the
siamese pair loss, triplet margin (optax's) and its batch-hard form, all-pairs contrastive.

Similarities come from one ``(2N, 2N)`` matmul of L2-normalised embeddings and a
log-softmax; nothing of size ``(2N, 2N, D)`` is ever built (the seed's ``simclr_loss``
builds it, which needs 12.8 GB at 2N = 2048, D = 128).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank, check_same_shape


def _normalise(z: jax.Array, eps: float = 1e-12) -> jax.Array:
    return z * jax.lax.rsqrt(jnp.maximum(jnp.sum(z * z, -1, keepdims=True), eps))


def _masked_log_softmax(sim: jax.Array) -> jax.Array:
    """Row-wise log-softmax over all entries but the diagonal (an anchor is not its own
    candidate)."""
    n = sim.shape[0]
    sim = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, sim)
    return jax.nn.log_softmax(sim, axis=-1)


def ntxent(
    z1: Float[ArrayLike, "n dim"],
    z2: Float[ArrayLike, "n dim"],
    *,
    temperature: float = 0.1,
) -> Float[Array, " two_n"]:
    r"""NT-Xent (Chen et al. 2020) for two views; one loss per anchor, shape ``(2N,)``.

    With :math:`u = z / \|z\|` over the ``2N`` embeddings ``[z1; z2]`` and ``p(i)`` the
    other view of example ``i``:

    .. math::
        \ell_i = -\log \frac{\exp(u_i \cdot u_{p(i)} / \tau)}
                          {\sum_{k \ne i} \exp(u_i \cdot u_k / \tau)}

    computed as a masked log-softmax of one matmul, so it is stable for small
    :math:`\tau` and near-identical embeddings. ``mean()`` is SimCLR's loss.

    The default :math:`\tau = 0.1` is the seed's ``simclr_loss`` (and SimCLR's ImageNet
    setting; :func:`supervised_contrastive` uses the same). SimCLR's CIFAR-10 runs used
    0.5 and ``optax.losses.ntxent`` defaults to 0.07; pass ``temperature`` to match those.

    Example:
      >>> import jax.numpy as jnp
      >>> z = jnp.eye(4)[:2]  # two orthogonal examples, each view equal to itself
      >>> ntxent(z, z, temperature=1.0).round(4)
      Array([0.5514, 0.5514, 0.5514, 0.5514], dtype=float32)
    """
    z1, z2 = jnp.asarray(z1), jnp.asarray(z2)
    check_rank("z1", z1, rank=2)
    check_same_shape("z2", z2, "z1", z1)
    n = z1.shape[0]
    u = _normalise(jnp.concatenate([z1, z2]).astype(jnp.float32))
    logp = _masked_log_softmax(u @ u.T / temperature)
    partner = jnp.concatenate([jnp.arange(n, 2 * n), jnp.arange(n)])
    return -jnp.take_along_axis(logp, partner[:, None], axis=1)[:, 0]


def supervised_contrastive(
    z: Float[ArrayLike, "n dim"],
    labels: Int[ArrayLike, " n"],
    *,
    temperature: float = 0.1,
) -> Float[Array, " n"]:
    r"""Supervised contrastive loss (Khosla et al. 2020, :math:`\mathcal L^{sup}_{out}`).

    Every other example with the same label is a positive:

    .. math::
        \ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)} \log
                 \frac{\exp(u_i \cdot u_p / \tau)}{\sum_{k \ne i} \exp(u_i \cdot u_k / \tau)}

    An anchor without positives gets loss 0. With two views per example stacked in
    ``z`` and their shared label, it contains NT-Xent's pairs.
    """
    z, labels = jnp.asarray(z), jnp.asarray(labels)
    check_rank("z", z, rank=2)
    if labels.shape != z.shape[:1]:
        raise ValueError(f"labels has shape {labels.shape}, expected ({z.shape[0]},).")
    u = _normalise(z.astype(jnp.float32))
    logp = _masked_log_softmax(u @ u.T / temperature)
    positive = (labels[:, None] == labels[None]) & ~jnp.eye(z.shape[0], dtype=bool)
    count = positive.sum(-1)
    total = jnp.sum(jnp.where(positive, logp, 0.0), -1)
    return jnp.where(count > 0, -total / jnp.maximum(count, 1), 0.0)


def contrastive_margin_loss(
    a: Float[ArrayLike, "n dim"],
    b: Float[ArrayLike, "n dim"],
    same: ArrayLike,
    *,
    margin: float = 1.0,
) -> Float[Array, " n"]:
    r"""The siamese pair loss of Hadsell et al. (2006):
    :math:`y\,d^2 + (1 - y) \max(m - d, 0)^2` with :math:`d = \|a - b\|`."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"b has shape {b.shape}, expected a's shape {a.shape}.")
    y = jnp.asarray(same, jnp.float32)
    d = jnp.sqrt(jnp.sum((a - b) ** 2, -1) + 1e-12)
    return y * d**2 + (1 - y) * jnp.maximum(margin - d, 0.0) ** 2


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
