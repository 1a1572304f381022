"""Evaluation metrics, per-example like the losses so they can be masked and summed."""

from __future__ import annotations

import jax
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


def feature_statistics(features: Float[ArrayLike, "n dim"]) -> tuple[Array, Array]:
    """Mean ``(dim,)`` and covariance ``(dim, dim)`` (unbiased) of a set of feature vectors."""
    f = jnp.asarray(features, jnp.float32)
    check_rank("features", f, rank=2)
    if f.shape[0] < 2:
        raise ValueError(f"features has shape {f.shape}, expected at least 2 rows.")
    mean = f.mean(0)
    centred = f - mean
    return mean, centred.T @ centred / (f.shape[0] - 1)


def _sqrtm_psd(a: Array) -> Array:
    w, v = jnp.linalg.eigh(a)
    return (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T


def frechet_distance(
    mean_a: Float[ArrayLike, " dim"],
    cov_a: Float[ArrayLike, "dim dim"],
    mean_b: Float[ArrayLike, " dim"],
    cov_b: Float[ArrayLike, "dim dim"],
) -> Array:
    r"""Fréchet distance between two Gaussians fitted to features (the "F" of FID).

    .. math::
        d^2 = \|\mu_a - \mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b
              - 2 (\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}\big)

    The cross term uses the symmetric form, whose trace equals that of
    :math:`(\Sigma_a \Sigma_b)^{1/2}` and needs only symmetric eigendecompositions. FID
    proper uses Inception-v3 features of ImageNet-like images; with another network's
    features (e.g. a Fashion-MNIST classifier) the number is only comparable to itself.

    Example:
      >>> import jax.numpy as jnp
      >>> float(frechet_distance(jnp.zeros(2), jnp.eye(2), jnp.ones(2), jnp.eye(2)))
      2.0
    """
    mean_a, mean_b = jnp.asarray(mean_a, jnp.float32), jnp.asarray(mean_b, jnp.float32)
    cov_a, cov_b = jnp.asarray(cov_a, jnp.float32), jnp.asarray(cov_b, jnp.float32)
    if cov_a.shape != cov_b.shape or cov_a.shape != (mean_a.shape[0],) * 2:
        raise ValueError(
            f"Got means {mean_a.shape}, {mean_b.shape} and covariances {cov_a.shape}, "
            f"{cov_b.shape}; expected (d,) and (d, d) for one d."
        )
    root_a = _sqrtm_psd(cov_a)
    cross = jnp.sum(jnp.sqrt(jnp.clip(jnp.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0)))
    return jnp.sum((mean_a - mean_b) ** 2) + jnp.trace(cov_a) + jnp.trace(cov_b) - 2 * cross


def contingency(
    a: Int[ArrayLike, " n"],
    b: Int[ArrayLike, " n"],
    *,
    num_a: int,
    num_b: int,
    where: ArrayLike | None = None,
) -> Float[Array, "num_a num_b"]:
    """Counts of each pair ``(a_i, b_i)``: ``table[j, k] = #{i: a_i = j, b_i = k}``.

    Ids outside ``[0, num_a)`` / ``[0, num_b)`` and points where ``where`` is false are
    not counted. The sizes are static, so it jits.

    Example:
      >>> import jax.numpy as jnp
      >>> contingency(jnp.array([0, 0, 1]), jnp.array([1, 1, 0]), num_a=2, num_b=2)
      Array([[0., 2.],
             [1., 0.]], dtype=float32)
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    check_rank("a", a, rank=1)
    if b.shape != a.shape:
        raise ValueError(f"b has shape {b.shape}, expected a's shape {a.shape}.")
    w = jnp.ones(a.shape, jnp.float32) if where is None else jnp.asarray(where, jnp.float32)
    one_a = jax.nn.one_hot(a, num_a, dtype=jnp.float32) * w[:, None]
    return jnp.matmul(one_a.T, jax.nn.one_hot(b, num_b, dtype=jnp.float32),
                      precision=jax.lax.Precision.HIGHEST)  # fmt: skip


def cluster_purity(table: Float[ArrayLike, "clusters classes"]) -> Float[Array, ""]:
    r"""Purity of clusters against true classes, from their :func:`contingency` table.

    .. math:: \text{purity} = \frac{1}{N} \sum_j \max_k n_{jk}

    the fraction of points whose cluster's majority class is their own class; 1 when every
    cluster holds one class (more clusters than classes can reach it, so read it beside
    :func:`normalized_mutual_information`).

    Example:
      >>> import jax.numpy as jnp
      >>> cluster_purity(jnp.array([[3.0, 1.0], [0.0, 4.0]]))
      Array(0.875, dtype=float32)
    """
    table = jnp.asarray(table, jnp.float32)
    check_rank("table", table, rank=2)
    return jnp.sum(jnp.max(table, axis=1)) / jnp.maximum(jnp.sum(table), 1.0)


def normalized_mutual_information(table: Float[ArrayLike, "a b"]) -> Float[Array, ""]:
    r"""Normalised mutual information of two labelings from their :func:`contingency` table.

    .. math::
        \text{NMI} = \frac{2\, I(A; B)}{H(A) + H(B)}, \qquad
        I(A; B) = \sum_{jk} p_{jk} \log \frac{p_{jk}}{p_j\, p_k}

    (the arithmetic-mean normalisation, scikit-learn's default). 1 when one labeling
    determines the other and vice versa, 0 when they are independent; symmetric, and
    blind to how the ids are named. Two constant labelings give 1 (scikit-learn's
    convention).

    Example:
      >>> import jax.numpy as jnp
      >>> float(normalized_mutual_information(jnp.array([[2.0, 0.0], [0.0, 3.0]])))
      1.0
    """
    table = jnp.asarray(table, jnp.float32)
    check_rank("table", table, rank=2)
    p = table / jnp.maximum(jnp.sum(table), 1.0)
    pa, pb = jnp.sum(p, axis=1), jnp.sum(p, axis=0)

    def entropy(q):
        return -jnp.sum(jnp.where(q > 0, q * jnp.log(jnp.where(q > 0, q, 1.0)), 0.0))

    outer = pa[:, None] * pb[None, :]
    ratio = jnp.where(p > 0, p / jnp.where(outer > 0, outer, 1.0), 1.0)
    mi = jnp.sum(jnp.where(p > 0, p * jnp.log(ratio), 0.0))
    denom = entropy(pa) + entropy(pb)
    return jnp.where(denom > 0, 2.0 * mi / jnp.where(denom > 0, denom, 1.0), 1.0)
