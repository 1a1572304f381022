"""Returns, GAE and PPO losses against the seed's plain-Python loops."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl.losses import discounted_returns, generalized_advantages, ppo_clip_loss, value_loss


def discount_rewards(rewards, discount):
    """The seed's loop."""
    out, s = [], 0.0
    for r in reversed(rewards):
        s = s * discount + r
        out.append(s)
    return list(reversed(out))


def calc_advantage(rewards, values, last_value, gamma, lam):
    """The seed's GAE for one episode segment."""
    rews, vals = rewards + [last_value], values + [last_value]
    delta = [rews[i] + gamma * vals[i + 1] - vals[i] for i in range(len(rews) - 1)]
    return discount_rewards(delta, gamma * lam)


def random_rollout(seed, T=60, envs=3):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(T, envs))
    values = rng.normal(size=(T, envs))
    term = rng.random((T, envs)) < 0.06
    trunc = (rng.random((T, envs)) < 0.06) & ~term
    # V(s_{t+1}): the next step's value inside an episode, an independent value (of the
    # final observation) at an episode end or after the last step.
    next_values = np.concatenate([values[1:], rng.normal(size=(1, envs))])
    ends = term | trunc
    next_values[ends] = rng.normal(size=ends.sum())
    return rewards, values, next_values, term, trunc


def reference(rewards, values, next_values, term, trunc, gamma, lam):
    """Cuts each environment's rollout into episode segments and runs the seed's loops."""
    T, envs = rewards.shape
    adv, ret = np.zeros_like(rewards), np.zeros_like(rewards)
    for e in range(envs):
        start = 0
        for t in range(T):
            if term[t, e] or trunc[t, e] or t == T - 1:
                last = 0.0 if term[t, e] else next_values[t, e]
                seg = slice(start, t + 1)
                r, v = list(rewards[seg, e]), list(values[seg, e])
                adv[seg, e] = calc_advantage(r, v, last, gamma, lam)
                ret[seg, e] = discount_rewards(r + [last], gamma)[:-1]
                start = t + 1
    return adv, ret


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_gae_and_returns_equal_the_seed_loops(seed, x64):
    # In float64 the scans and the loops agree to 1e-6 by a wide margin, which shows the
    # algorithm is the same; float32 adds only its rounding (about 1e-6 relative).
    tol = 1e-6 if x64 else 2e-5
    data = random_rollout(seed)
    gamma, lam = 0.99, 0.95
    adv_ref, ret_ref = reference(*data, gamma, lam)
    with jax.enable_x64(x64):
        adv = generalized_advantages(*data, discount=gamma, gae_lambda=lam)
        ret = discounted_returns(data[0], data[2], data[3], data[4], discount=gamma)
        adv1 = generalized_advantages(*data, discount=gamma, gae_lambda=1.0)
    assert adv.dtype == (np.float64 if x64 else np.float32)
    np.testing.assert_allclose(adv, adv_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(ret, ret_ref, rtol=tol, atol=tol)
    # lambda = 1: advantage + value is the bootstrapped return.
    np.testing.assert_allclose(adv1 + data[1], ret, rtol=10 * tol, atol=10 * tol)


def test_truncation_bootstraps_and_termination_does_not():
    # One 3-step episode of reward 1, then a new one; V(final observation) = 10.
    rewards = np.ones(4)
    values = np.zeros(4)
    next_values = np.array([0.0, 0.0, 10.0, 0.0])
    ended = np.array([False, False, True, False])
    never = np.zeros(4, bool)
    g = 0.5
    terminated = discounted_returns(rewards, next_values, ended, never, discount=g)
    truncated = discounted_returns(rewards, next_values, never, ended, discount=g)
    np.testing.assert_allclose(terminated[:3], [1.75, 1.5, 1.0])
    np.testing.assert_allclose(truncated[:3], [1.75 + 1.25, 1.5 + 2.5, 1.0 + 5.0])
    # Either way the next episode does not leak into this one.
    np.testing.assert_allclose(terminated[3], truncated[3])
    adv_te = generalized_advantages(
        rewards, values, next_values, ended, never, discount=g, gae_lambda=1.0
    )
    adv_tr = generalized_advantages(
        rewards, values, next_values, never, ended, discount=g, gae_lambda=1.0
    )
    np.testing.assert_allclose(adv_te[:3], terminated[:3])
    np.testing.assert_allclose(adv_tr[:3], truncated[:3])


def test_ppo_clip_loss_is_the_clipped_objective():
    ratio = np.array([0.5, 0.9, 1.0, 1.1, 1.5, 0.5, 1.5])
    adv = np.array([1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0])
    loss = ppo_clip_loss(np.log(ratio), np.zeros(7), adv, clip_eps=0.2)
    expected = -np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    # The seed's clamp(frac, 1 + clip) only bounds from below: at ratio 1.5 with a
    # positive advantage it would keep pushing (1.5) where PPO stops at 1.2.
    seed_version = -(np.maximum(ratio, 1.2) * adv)
    assert not np.allclose(seed_version, expected)


def test_value_loss_clipping():
    v, old, target = np.array([2.0, 0.0]), np.array([0.0, 0.0]), np.array([3.0, 1.0])
    np.testing.assert_allclose(value_loss(v, target), [0.5, 0.5])
    # The first value moved by 2 > eps: the clipped prediction 0.2 is further from the
    # target, and the max keeps that pessimistic error.
    np.testing.assert_allclose(
        value_loss(v, target, old_values=old, clip_eps=0.2), [0.5 * 2.8**2, 0.5], rtol=1e-6
    )


def test_shape_mismatch_is_one_sentence():
    with pytest.raises(ValueError, match=r"values has shape \(4,\), expected rewards's \(5,\)"):
        generalized_advantages(
            np.ones(5),
            np.ones(4),
            np.ones(5),
            np.zeros(5),
            np.zeros(5),
            discount=0.9,
            gae_lambda=0.9,
        )


def test_returns_called_the_seeds_way():
    # discount_rewards(rewards, discount): no bootstrap, no episode ends.
    rewards = np.random.default_rng(0).normal(size=17)
    np.testing.assert_allclose(
        discounted_returns(rewards, discount=0.9),
        discount_rewards(list(rewards), 0.9),
        rtol=1e-5,
        atol=1e-6,
    )
    # A batch axis after time, and the explicit form it is shorthand for.
    batch = np.random.default_rng(1).normal(size=(9, 4))
    never = np.zeros((9, 4), bool)
    np.testing.assert_array_equal(
        discounted_returns(batch, discount=0.5),
        discounted_returns(batch, np.zeros((9, 4)), never, never, discount=0.5),
    )


def test_value_loss_is_half_the_seeds_critic_loss():
    # Pinned convention (baselines' PPO2, CleanRL): 0.5 (V - G)^2; the seed's
    # critic_loss is (value - d_reward) ** 2.
    rng = np.random.default_rng(2)
    v, g = rng.normal(size=8), rng.normal(size=8)
    seed_critic_loss = (v - g) ** 2
    np.testing.assert_allclose(2 * np.asarray(value_loss(v, g)), seed_critic_loss, rtol=1e-5)
    grad = jax.grad(lambda x: value_loss(x, g).sum())(v)
    np.testing.assert_allclose(grad, v - g, rtol=1e-5)  # the seed's gradient is 2 (v - g)
