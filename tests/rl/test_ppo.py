"""PPO's compiled training run: determinism, vmap over seeds, the engine's steps and their
NaN guard; PPOConfig's validation."""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.errors import NonFiniteLossError
from jaxdl.rl import (
    PPOConfig,
    VecEnv,
    init_runner,
    make_env,
    make_step,
    make_train,
    random_policy_return,
)
from jaxdl.training import FullBatch, train

CONFIG = PPOConfig(
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
    with pytest.raises(
        ValueError, match="env_name is 'CartPole', which is not a gymnax environment; expected"
    ):
        dataclasses.replace(CONFIG, env_name="CartPole")
    with pytest.raises(ValueError, match="CartPole-v1, Pendulum-v1"):
        dataclasses.replace(CONFIG, env_name="cartpole")
    with pytest.raises(ValueError, match="name is 'cartpole', which is not a gymnax"):
        make_env("cartpole")


def test_minibatches_must_divide_the_rollout():
    with pytest.raises(
        ValueError,
        match=r"num_minibatches is 3, which does not divide the 128 transitions of a rollout "
        r"\(num_envs \* num_steps = 4 \* 32\); expected a divisor of 128\.",
    ):
        dataclasses.replace(CONFIG, num_minibatches=3)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("num_envs", 0, "a positive integer"),
        ("num_steps", 2.5, "a positive integer"),
        ("update_epochs", True, "a positive integer"),
        ("num_minibatches", -4, "a positive integer"),
        ("rollout_unroll", 0, "a positive integer"),
        ("gamma", 1.5, r"a number in \[0, 1\]"),
        ("gae_lambda", "0.9", r"a number in \[0, 1\]"),
        ("clip_eps", -0.1, "a number >= 0"),
        ("learning_rate", 0.0, "a number > 0"),
        ("max_grad_norm", -1.0, "a number > 0"),
        ("hidden", (16, 0), "a sequence of positive integers"),
        ("hidden", "64", "a sequence of positive integers"),
    ],
)
def test_config_fields_are_checked_once_at_construction(field, value, expected):
    got = re.escape(f"{field} is {value!r}, expected")
    with pytest.raises(ValueError, match=rf"^{got} {expected}\.$"):
        dataclasses.replace(CONFIG, **{field: value})


def test_total_timesteps_must_hold_a_rollout():
    with pytest.raises(
        ValueError,
        match=r"total_timesteps is 100, less than one rollout; expected at least "
        r"num_envs \* num_steps = 128\.",
    ):
        dataclasses.replace(CONFIG, total_timesteps=100)


def test_config_is_hashable_and_derives_the_run_shape():
    config = dataclasses.replace(CONFIG, hidden=[16, 16])
    assert config.hidden == (16, 16) and hash(config) == hash(CONFIG)
    assert (config.batch_size, config.num_updates, config.minibatch_size) == (128, 6, 32)


def test_make_train_takes_a_ppo_config():
    with pytest.raises(TypeError, match="config is a dict, expected a PPOConfig"):
        make_train(dataclasses.asdict(CONFIG))


@pytest.mark.slow
def test_rollout_unroll_is_a_speed_knob_only():
    key = jax.random.key(1)
    a = jax.jit(make_train(CONFIG))(key)["metrics"]
    b = jax.jit(make_train(dataclasses.replace(CONFIG, rollout_unroll=4)))(key)["metrics"]
    for name in ("episode_return", "value_loss", "actor_loss"):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_engine_steps_are_make_trains_updates():
    # One seed, the updates cut into two compiled epochs of 3 and a runner built outside
    # the program: the numbers are make_train's to the last bit (the engine only regroups
    # the same updates).
    key = jax.random.key(3)
    whole = jax.jit(make_train(CONFIG))(key)
    runner = init_runner(key, env=VecEnv("CartPole-v1", num_envs=4), config=CONFIG)
    result = train(
        runner,
        FullBatch(None, steps_per_epoch=3),
        loss_fn=None,
        step_fn=make_step(CONFIG),
        num_epochs=2,
        num_steps=CONFIG.num_updates,
        keep_step_metrics=True,
        progress=False,
        epoch_lines=False,
    )
    assert int(result.state.step) == CONFIG.num_updates == 6
    for name, values in result.step_metrics.items():
        np.testing.assert_array_equal(values, whole["metrics"][name], err_msg=name)
    assert "env_steps" not in result.step_metrics
    for a, b in zip(leaves(result.state.state), leaves(whole["state"]), strict=True):
        np.testing.assert_array_equal(a, b)


def leaves(tree) -> list[np.ndarray]:
    """The arrays of ``tree``, typed PRNG keys as their raw data."""
    is_key = lambda x: jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)  # noqa: E731
    return [np.asarray(jax.random.key_data(x) if is_key(x) else x) for x in jax.tree.leaves(tree)]


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_a_non_finite_update_is_dropped_and_reported():
    # The same compiled chunk of 3 updates as above (the compilation cache shares it).
    runner = init_runner(jax.random.key(3), env=VecEnv("CartPole-v1", num_envs=4), config=CONFIG)
    params = jax.tree.map(lambda p: p.at[0].set(jnp.nan) if p.ndim == 2 else p, runner.state.params)
    broken = runner._replace(state=runner.state.replace(params=params))
    before = leaves(broken)  # the engine donates the runner it trains
    options = dict(loss_fn=None, step_fn=make_step(CONFIG), num_epochs=1, progress=False)
    result = train(broken, FullBatch(None, steps_per_epoch=3), on_non_finite="record", **options)
    assert result.bad_step.tolist() == 0  # the first update failed
    assert np.isnan(result.metrics["train_value_loss"])
    for a, b in zip(leaves(result.state), before, strict=True):
        np.testing.assert_array_equal(a, b)  # every update dropped: the runner as it was
    with pytest.raises(NonFiniteLossError, match="Training stopped at step 0 "):
        train(jax.tree.map(jnp.asarray, result.state), FullBatch(None, 3), **options)
