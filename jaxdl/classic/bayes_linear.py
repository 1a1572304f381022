"""MLE vs MAP for linear regression, and the full Gaussian posterior (the MAP note).

Model: ``y = X w + eps``, ``eps ~ N(0, sigma^2)``. Maximum likelihood is least squares.
With the prior ``w ~ N(0, tau^2 I)`` the posterior is Gaussian with precision
``A = X^T X / sigma^2 + I / tau^2`` and mean ``A^-1 X^T y / sigma^2``; the MAP estimate is
that mean, i.e. ridge regression with ``lambda = sigma^2 / tau^2``. The prior pulls the
weights towards 0, which helps most when data are few or features nearly collinear, and
vanishes as ``tau -> inf`` (MAP -> MLE) or as the data grow.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from jaxdl._checks import check_rank


def _check(x, y):
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    check_rank("x", x, rank=2)
    check_rank("y", y, rank=1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y has shape {y.shape}, expected ({x.shape[0]},) to match x {x.shape}.")
    return x, y


def mle_weights(x: Float[ArrayLike, " n d"], y: Float[ArrayLike, " n"]) -> Float[Array, " d"]:
    """Least-squares weights (the maximum-likelihood estimate under Gaussian noise).

    >>> round(float(mle_weights(jnp.array([[1.0], [2.0]]), jnp.array([2.0, 4.0]))[0]), 4)
    2.0
    """
    x, y = _check(x, y)
    return jnp.linalg.lstsq(x, y)[0]


class Posterior(NamedTuple):
    mean: Float[Array, " d"]  # also the MAP estimate
    covariance: Float[Array, " d d"]
    noise_variance: Float[Array, ""]


def posterior(
    x: Float[ArrayLike, " n d"],
    y: Float[ArrayLike, " n"],
    *,
    prior_variance: float = 1.0,
    noise_variance: float = 1.0,
) -> Posterior:
    """Gaussian posterior over the weights for the prior ``N(0, prior_variance I)``.

    >>> p = posterior(jnp.array([[1.0], [2.0]]), jnp.array([2.0, 4.0]), prior_variance=1.0)
    >>> round(float(p.mean[0]), 4)  # 10 / 6: shrunk from the MLE's 2
    1.6667
    """
    x, y = _check(x, y)
    if prior_variance <= 0 or noise_variance <= 0:
        raise ValueError(
            f"prior_variance={prior_variance}, noise_variance={noise_variance}; expected both > 0."
        )
    precision = x.T @ x / noise_variance + jnp.eye(x.shape[1]) / prior_variance
    chol = jnp.linalg.cholesky(precision)
    cov = jax.scipy.linalg.cho_solve((chol, True), jnp.eye(x.shape[1]))
    mean = jax.scipy.linalg.cho_solve((chol, True), x.T @ y / noise_variance)
    return Posterior(mean, cov, jnp.asarray(noise_variance, jnp.float32))


def map_weights(
    x: Float[ArrayLike, " n d"],
    y: Float[ArrayLike, " n"],
    *,
    prior_variance: float = 1.0,
    noise_variance: float = 1.0,
) -> Float[Array, " d"]:
    """The MAP weights: ridge regression with ``lambda = noise_variance / prior_variance``."""
    return posterior(x, y, prior_variance=prior_variance, noise_variance=noise_variance).mean


def predictive(
    post: Posterior, x: Float[ArrayLike, " q d"]
) -> tuple[Float[Array, " q"], Float[Array, " q"]]:
    """Posterior predictive mean and variance ``sigma^2 + x^T Sigma x`` at new inputs."""
    x = jnp.asarray(x, jnp.float32)
    check_rank("x", x, rank=2)
    var = post.noise_variance + jnp.einsum("qd,de,qe->q", x, post.covariance, x)
    return x @ post.mean, var
