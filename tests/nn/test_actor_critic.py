"""Actor-critic networks and their distributions, checked against torch.distributions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn.actor_critic import ActorCritic, Categorical, DiagGaussian

torch = pytest.importorskip("torch")


def test_categorical_matches_torch():
    logits = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    actions = np.array([0, 3, 1, 2, 2])
    ours = Categorical(jnp.asarray(logits))
    ref = torch.distributions.Categorical(logits=torch.as_tensor(logits))
    np.testing.assert_allclose(
        ours.log_prob(jnp.asarray(actions)),
        ref.log_prob(torch.as_tensor(actions)),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(ours.entropy(), ref.entropy(), rtol=1e-5, atol=1e-6)
    samples = ours.sample(jax.random.key(0))
    assert samples.shape == (5,) and (samples >= 0).all() and (samples < 4).all()


def test_gaussian_matches_torch():
    rng = np.random.default_rng(1)
    mean, log_std, a = (rng.normal(size=(6, 2)).astype(np.float32) for _ in range(3))
    ours = DiagGaussian(jnp.asarray(mean), jnp.asarray(log_std))
    ref = torch.distributions.Independent(
        torch.distributions.Normal(torch.as_tensor(mean), torch.as_tensor(np.exp(log_std))), 1
    )
    np.testing.assert_allclose(
        ours.log_prob(jnp.asarray(a)), ref.log_prob(torch.as_tensor(a)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(ours.entropy(), ref.entropy(), rtol=1e-5, atol=1e-5)


def test_sampling_frequencies_follow_the_probabilities():
    pi = Categorical(jnp.log(jnp.array([[0.2, 0.8]])).repeat(20000, 0))
    freq = float(pi.sample(jax.random.key(3)).mean())
    assert abs(freq - 0.8) < 0.02


@pytest.mark.slow
def test_actor_critic_initialisation_and_shapes():
    model = ActorCritic(4, 3, hidden=(8, 8), rngs=nnx.Rngs(0))
    w = np.asarray(model.actor.hidden[1].kernel[...])
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(8), atol=1e-5)  # orthogonal, gain sqrt 2
    pi, v = model(jnp.ones((7, 4)))
    assert pi.logits.shape == (7, 3) and v.shape == (7,)
    # The small policy head starts close to uniform.
    assert float(jnp.abs(pi.logits).max()) < 0.1
    pi_c, _ = ActorCritic(4, 2, continuous=True, rngs=nnx.Rngs(0))(jnp.ones((7, 4)))
    assert pi_c.mean.shape == (7, 2) and pi_c.entropy().shape == (7,)
    # policy() and value() are the two halves of __call__.
    obs = jax.random.normal(jax.random.key(3), (7, 4))
    pi, v = model(obs)
    np.testing.assert_array_equal(model.policy(obs).logits, pi.logits)
    np.testing.assert_array_equal(model.value(obs), v)


def test_wrong_observation_shape():
    with pytest.raises(ValueError, match=r"obs has shape \(2, 5\), expected \(\.\.\., 4\)"):
        ActorCritic(4, 2, rngs=nnx.Rngs(0))(jnp.ones((2, 5)))
