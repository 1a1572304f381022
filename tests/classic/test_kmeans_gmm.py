"""k-means and EM for Gaussian mixtures."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.classic import (
    GaussianMixture,
    component_log_pdf,
    em_history,
    fit_gmm,
    init_from_kmeans,
    kmeans,
    kmeans_plus_plus,
    lloyd,
    mean_log_likelihood,
)


def blobs(seed, spread):
    """120 points in 3-d from 4 full-covariance Gaussians with centres ``spread`` apart."""
    rng = np.random.default_rng(seed)
    centres = spread * np.array([[-1, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 1]], np.float64)
    covs = [np.cov(rng.normal(size=(3, 6))) for _ in range(4)]
    x = [rng.multivariate_normal(c, s, 30) for c, s in zip(centres, covs, strict=True)]
    return np.concatenate(x).astype(np.float32), np.repeat(np.arange(4), 30), centres


X, TRUE_LABELS, CENTRES = blobs(0, spread=8.0)
# One compiled program per function for the whole file: the same shapes and statics.
KMEANS = dict(num_clusters=4, num_restarts=4)
GMM = dict(num_components=4, num_restarts=2)


def test_kmeans_finds_separated_clusters_and_reports_its_inertia():
    r = kmeans(X, key=jax.random.key(0), **KMEANS)
    # Each found cluster is one true cluster (a bijection, whatever the order).
    pairs = set(zip(np.asarray(r.labels).tolist(), TRUE_LABELS.tolist(), strict=True))
    assert len(pairs) == 4
    inertia = sum(((X[np.asarray(r.labels) == j] - r.centres[j]) ** 2).sum() for j in range(4))
    assert float(r.inertia) == pytest.approx(float(inertia), rel=1e-4)


def test_best_restart_is_no_worse_than_each_single_run():
    key = jax.random.key(3)
    best = kmeans(X, key=key, **KMEANS).inertia
    xc = X - X.mean(0)
    single = jax.jit(lambda k: lloyd(xc, kmeans_plus_plus(xc, num_clusters=4, key=k)).inertia)
    singles = [float(single(k)) for k in jax.random.split(key, 4)]
    assert float(best) == pytest.approx(min(singles), rel=1e-5)


def test_kmeans_plus_plus_picks_distinct_points_of_the_data():
    c = np.asarray(kmeans_plus_plus(X, num_clusters=4, key=jax.random.key(1)))
    assert len({tuple(row) for row in c}) == 4
    assert all(np.any(np.all(row == X, axis=1)) for row in c)


def test_component_log_pdf_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    m = init_from_kmeans(X, num_components=4, key=jax.random.key(0))
    got = np.asarray(component_log_pdf(X, m))
    for k in range(4):
        want = np.log(float(m.weights[k])) + stats.multivariate_normal(
            np.asarray(m.means[k]), np.asarray(m.covariances[k])
        ).logpdf(X)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-4, atol=1e-3)


def test_em_log_likelihood_never_decreases():
    # From a deliberately poor start (all components near the data mean), EM has far to go.
    m0 = GaussianMixture(
        jnp.full(4, 0.25),
        jnp.asarray(X.mean(0) + 0.1 * np.random.default_rng(1).normal(size=(4, 3)), jnp.float32),
        jnp.tile(jnp.asarray(np.cov(X.T), jnp.float32), (4, 1, 1)),
    )
    _, history = em_history(X, m0, num_steps=40, reg_covar=0.0)
    history = np.asarray(history)
    assert history[-1] - history[0] > 0.5
    assert np.all(np.diff(history) >= -1e-5 * np.abs(history[:-1]))


def test_fit_gmm_recovers_the_components():
    r = fit_gmm(X, key=jax.random.key(0), **GMM)
    assert float(r.mean_log_likelihood) == pytest.approx(
        float(mean_log_likelihood(X, r.mixture)), rel=1e-6
    )
    got = np.sort(np.asarray(r.mixture.means)[:, 0])
    np.testing.assert_allclose(got, np.sort(CENTRES[:, 0]), atol=0.6)
    np.testing.assert_allclose(np.asarray(r.mixture.weights), 0.25, atol=0.02)


def test_agree_with_scikit_learn_within_one_percent():
    sk_cluster = pytest.importorskip("sklearn.cluster")
    sk_mixture = pytest.importorskip("sklearn.mixture")
    x, _, _ = blobs(1, spread=2.0)  # overlapping clusters: local optima to choose among
    ours = kmeans(x, key=jax.random.key(0), **KMEANS)
    theirs = sk_cluster.KMeans(4, n_init=4, random_state=0).fit(x)
    assert float(ours.inertia) <= 1.01 * theirs.inertia_
    g = fit_gmm(x, key=jax.random.key(0), **GMM)
    sk = sk_mixture.GaussianMixture(4, n_init=2, random_state=0).fit(x)
    assert float(g.mean_log_likelihood) >= sk.score(x) - 0.01 * abs(sk.score(x))
