r"""Contrastive losses: SimCLR's NT-Xent, supervised contrastive, triplet and margin losses.

Similarities come from one ``(2N, 2N)`` matmul of L2-normalised embeddings and a
log-softmax; nothing of size ``(2N, 2N, D)`` is ever built (the seed's ``simclr_loss``
builds it, which needs 12.8 GB at 2N = 2048, D = 128).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank


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
    temperature: float = 0.5,
) -> Float[Array, " two_n"]:
    r"""NT-Xent (Chen et al. 2020) for two views; one loss per anchor, shape ``(2N,)``.

    With :math:`u = z / \|z\|` over the ``2N`` embeddings ``[z1; z2]`` and ``p(i)`` the
    other view of example ``i``:

    .. math::
        \ell_i = -\log \frac{\exp(u_i \cdot u_{p(i)} / \tau)}
                          {\sum_{k \ne i} \exp(u_i \cdot u_k / \tau)}

    computed as a masked log-softmax of one matmul, so it is stable for small
    :math:`\tau` and near-identical embeddings. ``mean()`` is SimCLR's loss.

    Example:
      >>> import jax.numpy as jnp
      >>> z = jnp.eye(4)[:2]  # two orthogonal examples, each view equal to itself
      >>> ntxent(z, z, temperature=1.0).round(4)
      Array([0.5514, 0.5514, 0.5514, 0.5514], dtype=float32)
    """
    z1, z2 = jnp.asarray(z1), jnp.asarray(z2)
    check_rank("z1", z1, rank=2)
    if z1.shape != z2.shape:
        raise ValueError(f"z2 has shape {z2.shape}, expected z1's shape {z1.shape}.")
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


def triplet_margin_loss(
    anchor: Float[ArrayLike, "n dim"],
    positive: Float[ArrayLike, "n dim"],
    negative: Float[ArrayLike, "n dim"],
    *,
    margin: float = 1.0,
) -> Float[Array, " n"]:
    r""":math:`\max(\|a - p\| - \|a - n\| + m, 0)` (Schroff et al. 2015), per triplet.

    Example:
      >>> import jax.numpy as jnp
      >>> a, p, n = jnp.zeros((1, 2)), jnp.array([[3.0, 4.0]]), jnp.array([[0.0, 1.0]])
      >>> triplet_margin_loss(a, p, n, margin=1.0)
      Array([5.], dtype=float32)
    """
    a, p, n = (jnp.asarray(x) for x in (anchor, positive, negative))
    if not a.shape == p.shape == n.shape:
        raise ValueError(
            f"anchor, positive and negative have shapes {a.shape}, {p.shape}, {n.shape}; "
            "expected one shape (n, dim)."
        )
    d_pos = jnp.sqrt(jnp.sum((a - p) ** 2, -1) + 1e-12)
    d_neg = jnp.sqrt(jnp.sum((a - n) ** 2, -1) + 1e-12)
    return jnp.maximum(d_pos - d_neg + margin, 0.0)


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
