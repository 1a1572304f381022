"""Expectation maximisation for Gaussian mixtures with full covariances.

E step: responsibilities ``r_ik = p(z = k | x_i)`` from the current parameters. M step:
the weights, means and covariances that maximise the expected complete-data
log-likelihood under those responsibilities. Each EM step cannot decrease the data
log-likelihood (Dempster, Laird & Rubin 1977), which the tests check. Initialisation is
scikit-learn's default: responsibilities from one k-means run. Restarts are a vmap.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from jaxdl._checks import check_rank
from jaxdl.classic.kmeans import kmeans_plus_plus, lloyd


class GaussianMixture(NamedTuple):
    weights: Float[Array, "... k"]
    means: Float[Array, "... k d"]
    covariances: Float[Array, "... k d d"]


class GMMResult(NamedTuple):
    mixture: GaussianMixture
    mean_log_likelihood: Float[Array, "..."]  # per example, at the returned parameters
    num_iters: Float[Array, "..."]


def component_log_pdf(
    x: Float[ArrayLike, " n d"], mixture: GaussianMixture
) -> Float[Array, " n k"]:
    """``log w_k + log N(x_i | mu_k, Sigma_k)`` for every point and component.

    Uses the Cholesky factor ``L L^T = Sigma``: the Mahalanobis term is ``|L^-1 (x - mu)|^2``
    and ``log det Sigma = 2 sum log diag L``, so no inverse is formed.

    >>> m = GaussianMixture(jnp.ones(1), jnp.zeros((1, 1)), jnp.ones((1, 1, 1)))
    >>> round(float(component_log_pdf(jnp.zeros((1, 1)), m)[0, 0]), 4)  # -log(2 pi) / 2
    -0.9189
    """
    x = jnp.asarray(x)
    check_rank("x", x, rank=2)
    chol = jnp.linalg.cholesky(mixture.covariances)  # (k, d, d)
    diff = x[None, :, :] - mixture.means[:, None, :]  # (k, n, d)
    z = jax.scipy.linalg.solve_triangular(chol, jnp.swapaxes(diff, 1, 2), lower=True)
    maha = jnp.sum(z**2, axis=1)  # (k, n)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)  # (k,)
    d = x.shape[1]
    log_pdf = -0.5 * (d * math.log(2 * math.pi) + logdet[:, None] + maha)
    return (jnp.log(mixture.weights)[:, None] + log_pdf).T


def mean_log_likelihood(x: Float[ArrayLike, " n d"], mixture: GaussianMixture) -> Float[Array, ""]:
    """Average ``log p(x_i)`` under the mixture (scikit-learn's ``score``)."""
    return jnp.mean(jax.nn.logsumexp(component_log_pdf(x, mixture), axis=1))


def m_step(
    x: Float[ArrayLike, " n d"], resp: Float[ArrayLike, " n k"], *, reg_covar: float = 1e-6
) -> GaussianMixture:
    """Maximum-likelihood parameters given responsibilities (``reg_covar`` added to diagonals)."""
    x, resp = jnp.asarray(x), jnp.asarray(resp)
    nk = jnp.sum(resp, axis=0) + 10 * jnp.finfo(x.dtype).eps  # guards empty components
    means = resp.T @ x / nk[:, None]
    diff = x[None] - means[:, None]  # (k, n, d)
    cov = jnp.einsum("kn,knd,kne->kde", resp.T, diff, diff) / nk[:, None, None]
    cov = cov + reg_covar * jnp.eye(x.shape[1])
    return GaussianMixture(nk / x.shape[0], means, cov)


def em_step(
    x: Float[ArrayLike, " n d"], mixture: GaussianMixture, *, reg_covar: float = 1e-6
) -> tuple[GaussianMixture, Float[Array, ""]]:
    """One E step and one M step; also returns the mean log-likelihood before the step."""
    log_joint = component_log_pdf(x, mixture)
    log_norm = jax.nn.logsumexp(log_joint, axis=1, keepdims=True)
    resp = jnp.exp(log_joint - log_norm)
    return m_step(x, resp, reg_covar=reg_covar), jnp.mean(log_norm)


@functools.partial(jax.jit, static_argnames=("num_components",))
def init_from_kmeans(
    x: Float[ArrayLike, " n d"], *, num_components: int, key: PRNGKeyArray, reg_covar: float = 1e-6
) -> GaussianMixture:
    """Parameters from hard responsibilities of one k-means++ / Lloyd run."""
    x = jnp.asarray(x, jnp.float32)
    init = kmeans_plus_plus(x, num_clusters=num_components, key=key)
    labels = lloyd(x, init).labels
    return m_step(x, jax.nn.one_hot(labels, num_components, dtype=x.dtype), reg_covar=reg_covar)


@functools.partial(jax.jit, static_argnames=("num_steps",))
def em_history(
    x: Float[ArrayLike, " n d"],
    mixture: GaussianMixture,
    *,
    num_steps: int,
    reg_covar: float = 1e-6,
) -> tuple[GaussianMixture, Float[Array, " steps"]]:
    """``num_steps`` EM steps in a ``lax.scan``; the mean log-likelihood before each step."""
    x = jnp.asarray(x, jnp.float32)
    return jax.lax.scan(
        lambda m, _: em_step(x, m, reg_covar=reg_covar), mixture, None, length=num_steps
    )


@functools.partial(jax.jit, static_argnames=("num_components", "num_restarts", "max_iters"))
def fit_gmm(
    x: Float[ArrayLike, " n d"],
    *,
    num_components: int,
    key: PRNGKeyArray,
    num_restarts: int = 1,
    max_iters: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
) -> GMMResult:
    """EM from k-means initialisations until the mean log-likelihood gains less than ``tol``.

    The ``num_restarts`` runs are one vmap; the run with the highest final mean
    log-likelihood is returned.

    >>> x = jnp.concatenate([jax.random.normal(jax.random.key(1), (50, 2)) - 5,
    ...                      jax.random.normal(jax.random.key(2), (50, 2)) + 5])
    >>> r = fit_gmm(x, num_components=2, key=jax.random.key(0))
    >>> sorted(round(float(w), 1) for w in r.mixture.weights)
    [0.5, 0.5]
    """
    x = jnp.asarray(x, jnp.float32)
    check_rank("x", x, rank=2)

    def one(k):
        m0 = init_from_kmeans(x, num_components=num_components, key=k, reg_covar=reg_covar)

        def cond(c):
            _, ll, prev, it = c
            return (jnp.abs(ll - prev) >= tol) & (it < max_iters)

        def body(c):
            m, ll, _, it = c
            new, ll_before = em_step(x, m, reg_covar=reg_covar)
            return new, ll_before, ll, it + 1

        m, _, _, it = jax.lax.while_loop(cond, body, (m0, -jnp.inf, jnp.inf, 0))
        return GMMResult(m, mean_log_likelihood(x, m), it)

    runs = jax.vmap(one)(jax.random.split(key, num_restarts))
    best = jnp.argmax(runs.mean_log_likelihood)
    return jax.tree.map(lambda a: a[best], runs)
