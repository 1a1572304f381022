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
