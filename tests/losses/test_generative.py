"""Losses of the generative models."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.losses import (
    bernoulli_nll,
    epsilon_loss,
    gan_discriminator_loss,
    gan_generator_loss,
    gaussian_kl,
    masked_mse,
    negative_elbo,
    vq_loss,
)


def test_gaussian_kl_matches_monte_carlo():
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    mean = jax.random.normal(k1, (3, 5))
    logvar = 0.5 * jax.random.normal(k2, (3, 5))
    z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(k3, (400_000, 3, 5))
    log_q = -0.5 * (((z - mean) ** 2) / jnp.exp(logvar) + logvar + jnp.log(2 * jnp.pi))
    log_p = -0.5 * (z**2 + jnp.log(2 * jnp.pi))
    mc = (log_q - log_p).sum(-1).mean(0)
    np.testing.assert_allclose(gaussian_kl(mean, logvar), mc, rtol=0.01)


def test_bernoulli_nll_and_elbo():
    x = jnp.array([[0.0, 1.0, 0.25]])
    logits = jnp.array([[0.3, -1.0, 2.0]])
    p = jax.nn.sigmoid(logits)
    expected = -jnp.sum(x * jnp.log(p) + (1 - x) * jnp.log(1 - p))
    np.testing.assert_allclose(bernoulli_nll(logits, x), [expected], rtol=1e-6)
    mean, logvar = jnp.ones((1, 2)), jnp.zeros((1, 2))
    np.testing.assert_allclose(
        negative_elbo(logits, x, mean, logvar, beta=2.0), expected + 2.0 * 1.0, rtol=1e-6
    )


def test_gan_losses_and_the_non_saturating_gradient():
    np.testing.assert_allclose(
        gan_discriminator_loss(jnp.zeros(1), jnp.zeros(1)), [2 * np.log(2)], rtol=1e-6
    )
    # When D confidently rejects a fake (logit -5), log(1 - D) barely moves the
    # generator; -log D still pushes hard.
    # log(1 - sigmoid(s)) = -softplus(s)
    saturating = jax.grad(lambda s: -jax.nn.softplus(s))(-5.0)
    non_saturating = jax.grad(lambda s: gan_generator_loss(s))(-5.0)
    assert abs(non_saturating) > 100 * abs(saturating)


def test_vq_loss_terms_and_their_gradients():
    z_e, z_q = jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]])
    np.testing.assert_allclose(vq_loss(z_e, z_q, commitment=0.25), [1.25 * 2.5])
    np.testing.assert_allclose(vq_loss(z_e, z_q, commitment=0.25, codebook=False), [0.25 * 2.5])
    # The commitment term moves only the encoder output, the codebook term only the codes.
    g_e, g_q = jax.grad(lambda a, b: vq_loss(a, b, commitment=0.25).sum(), (0, 1))(z_e, z_q)
    np.testing.assert_allclose(g_e, 0.25 * z_e)  # d/dz_e of 0.25 * mean((z_e - z_q)^2)
    np.testing.assert_allclose(g_q, -(z_e - z_q))


def test_masked_and_epsilon_losses():
    pred, target = jnp.ones((2, 2, 2, 1)), jnp.zeros((2, 2, 2, 1))
    mask = jnp.zeros((2, 2, 2, 1)).at[0, 0, 0].set(1.0)
    np.testing.assert_allclose(masked_mse(pred, target, mask), [1.0, 0.0])
    np.testing.assert_allclose(epsilon_loss(pred, target), [1.0, 1.0])


@pytest.mark.parametrize(
    ("fn", "args", "message"),
    [
        (gaussian_kl, (jnp.zeros((2, 3)), jnp.zeros((2, 4))), r"logvar has shape \(2, 4\)"),
        (epsilon_loss, (jnp.zeros((2, 3)), jnp.zeros((3, 3))), r"eps has shape \(3, 3\)"),
        (vq_loss, (jnp.zeros((2, 3)), jnp.zeros((2, 1))), r"z_q has shape \(2, 1\)"),
    ],
)
def test_shape_errors(fn, args, message):
    with pytest.raises(ValueError, match=message):
        fn(*args)
