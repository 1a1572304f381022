"""Contrastive losses: NT-Xent against the seed's simclr_loss, SupCon, triplet, margin."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks.ntxent import seed_simclr_loss
from jaxdl.losses import (
    contrastive_margin_loss,
    ntxent,
    supervised_contrastive,
    triplet_margin_loss,
)


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_ntxent_equals_the_seed(tau):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z1, z2 = (rng.normal(size=(64, 16)).astype(np.float32) for _ in range(2))
    expected = float(seed_simclr_loss(torch.as_tensor(z1), torch.as_tensor(z2), tau))
    assert float(ntxent(z1, z2, temperature=tau).mean()) == pytest.approx(expected, rel=1e-5)


def test_ntxent_default_temperature_is_the_seeds():
    # The seed's simclr_loss hard-codes tau = 0.1; so does the default (it was 0.5).
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    z1, z2 = (rng.normal(size=(32, 8)).astype(np.float32) for _ in range(2))
    expected = float(seed_simclr_loss(torch.as_tensor(z1), torch.as_tensor(z2), 0.1))
    assert float(ntxent(z1, z2).mean()) == pytest.approx(expected, rel=1e-5)
    assert float(ntxent(z1, z2, temperature=0.5).mean()) != pytest.approx(expected, rel=1e-2)


def test_ntxent_equals_optax():
    rng = np.random.default_rng(1)
    z1, z2 = (rng.normal(size=(8, 5)).astype(np.float32) for _ in range(2))
    labels = jnp.concatenate([jnp.arange(8), jnp.arange(8)])
    ref = optax.losses.ntxent(jnp.concatenate([z1, z2]), labels, temperature=0.2)
    assert float(ntxent(z1, z2, temperature=0.2).mean()) == pytest.approx(float(ref), rel=1e-5)


def test_ntxent_is_stable_where_the_seed_is_not():
    z = jnp.ones((32, 8)) + 1e-4 * jax.random.normal(jax.random.key(0), (32, 8))
    loss = ntxent(z, z, temperature=0.05)
    grads = jax.grad(lambda a: ntxent(a, z, temperature=0.05).mean())(z)
    assert np.isfinite(loss).all() and np.isfinite(grads).all()
    # Nearly identical embeddings: every candidate looks the same, loss ~ log(2N - 1).
    np.testing.assert_allclose(loss, np.log(63), rtol=1e-2)


def test_supervised_contrastive():
    z = jnp.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    good = supervised_contrastive(z, jnp.array([0, 0, 1, 1]), temperature=0.1)
    bad = supervised_contrastive(z, jnp.array([0, 1, 0, 1]), temperature=0.1)
    assert (good < 0.1).all() and (bad > 3).all()
    lonely = supervised_contrastive(z, jnp.array([0, 1, 2, 3]), temperature=0.1)
    np.testing.assert_array_equal(lonely, 0.0)


def test_two_views_with_one_label_each_is_ntxent_plus_same_class_pairs():
    rng = np.random.default_rng(2)
    z1, z2 = (rng.normal(size=(6, 4)).astype(np.float32) for _ in range(2))
    ids = jnp.concatenate([jnp.arange(6), jnp.arange(6)])  # every example its own class
    np.testing.assert_allclose(
        supervised_contrastive(jnp.concatenate([z1, z2]), ids, temperature=0.3),
        ntxent(z1, z2, temperature=0.3),
        rtol=1e-5,
    )


def test_triplet_and_margin_losses():
    a = jnp.zeros((2, 2))
    p = jnp.array([[0.0, 1.0], [0.0, 1.0]])
    n = jnp.array([[0.0, 3.0], [0.0, 1.5]])
    np.testing.assert_allclose(triplet_margin_loss(a, p, n, margin=1.0), [0.0, 0.5], atol=1e-5)
    same = jnp.array([1, 0])
    np.testing.assert_allclose(
        contrastive_margin_loss(a, p, same, margin=2.0), [1.0, 1.0], atol=1e-5
    )


def test_shape_errors():
    with pytest.raises(ValueError, match=r"z2 has shape \(3, 4\), expected z1's shape \(2, 4\)"):
        ntxent(jnp.zeros((2, 4)), jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"labels has shape \(3,\), expected \(2,\)"):
        supervised_contrastive(jnp.zeros((2, 4)), jnp.zeros(3, jnp.int32))
