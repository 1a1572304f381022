"""PPO's compiled training run: determinism, vmap over seeds, config errors."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl.errors import ConfigError
from jaxdl.rl import make_train, random_policy_return

CONFIG = dict(
    env_name="CartPole-v1",
    num_envs=4,
    num_steps=32,
    total_timesteps=4 * 32 * 6,
    update_epochs=2,
    num_minibatches=4,
    learning_rate=2.5e-3,
    anneal_lr=True,
    gamma=0.99,
    gae_lambda=0.95,
    clip_eps=0.2,
    clip_value=True,
    ent_coef=0.01,
    vf_coef=0.5,
    max_grad_norm=0.5,
    hidden=(16, 16),
    normalize_obs=True,
)


def test_training_is_deterministic_and_vmaps_over_seeds():
    train = jax.jit(jax.vmap(make_train(CONFIG)))
    keys = jax.random.split(jax.random.key(0), 2)

    def arrays(out):  # the metrics and the parameters (the typed key is not an array)
        return jax.tree.map(np.asarray, {**out["metrics"], "params": out["state"].params})

    a, b = arrays(train(keys)), arrays(train(keys))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert a["episode_return"].shape == (2, 6)
    np.testing.assert_array_equal(a["env_steps"][0], 128 * np.arange(1, 7))
    assert np.isfinite(a["value_loss"]).all() and np.isfinite(a["entropy"]).all()
    # Different seeds, different runs.
    kernel = a["params"]["actor"]["out"]["kernel"]
    assert not np.array_equal(kernel[0], kernel[1])
    # CartPole episodes give +1 per step, so returns are positive episode lengths.
    assert (a["episode_return"][:, -1] > 5).all()


def test_random_policy_reference():
    # A random CartPole policy lasts about 22 steps.
    assert 15 < random_policy_return("CartPole-v1", key=jax.random.key(0), num_steps=500) < 30


def test_unknown_environment_lists_the_available_ones():
    with pytest.raises(ConfigError, match="There is no gymnax environment 'CartPole'; avail"):
        make_train({**CONFIG, "env_name": "CartPole"})
    with pytest.raises(ConfigError, match="CartPole-v1, Pendulum-v1"):
        make_train({**CONFIG, "env_name": "cartpole"})


def test_minibatches_must_divide_the_rollout():
    with pytest.raises(ConfigError, match="num_minibatches is 3, which does not divide the 128"):
        make_train({**CONFIG, "num_minibatches": 3})


def test_rollout_unroll_is_a_speed_knob_only():
    key = jax.random.key(1)
    a = jax.jit(make_train(CONFIG))(key)["metrics"]
    b = jax.jit(make_train({**CONFIG, "rollout_unroll": 4}))(key)["metrics"]
    for name in ("episode_return", "value_loss", "actor_loss"):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="rollout_unroll is 0, expected >= 1"):
        make_train({**CONFIG, "rollout_unroll": 0})
