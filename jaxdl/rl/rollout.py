"""Vectorised gymnax environments and PPO's rollouts, as pure functions for ``lax.scan``.

Time limits are handled as such: at a truncated step the advantage bootstraps from the
value of the final observation (gymnax 1.0's ``info["final_observation"]``), while a
terminated step has no future. See :mod:`jaxdl.losses._rl`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from gymnax.environments import spaces

from jaxdl.rl.config import check_env_name


def make_env(name: str) -> tuple[Any, Any]:
    """``gymnax.make(name)``: the environment and its default parameters.

    Args:
      name: a registered gymnax environment, e.g. ``"CartPole-v1"``.

    Returns:
      ``(env, env_params)``.

    Raises:
      ValueError: ``name`` is not registered; the message lists the registered ones.
    """
    check_env_name(name)
    return gymnax.make(name)


class VecEnv:
    """``num_envs`` copies of a gymnax environment stepped together, with observations
    flattened to float32 vectors of ``obs_dim``.

    Example:
      >>> env = VecEnv("CartPole-v1", num_envs=3)
      >>> obs, state = env.reset(jax.random.key(0))
      >>> obs.shape, env.action_dim, env.continuous
      ((3, 4), 2, False)

    Args:
      name: a registered gymnax environment.
      num_envs: copies stepped in parallel.

    Raises:
      ValueError: ``name`` is not a gymnax environment.
    """

    def __init__(self, name: str, *, num_envs: int):
        self.env, self.params = make_env(name)
        self.num_envs = num_envs
        self.obs_shape = self.env.observation_space(self.params).shape
        self.obs_dim = int(np.prod(self.obs_shape))
        self.space = self.env.action_space(self.params)
        self.continuous = isinstance(self.space, spaces.Box)
        self.action_dim = int(np.prod(self.space.shape)) if self.continuous else int(self.space.n)
        self._reset = jax.vmap(self.env.reset, in_axes=(0, None))
        self._step = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))

    def _flat(self, obs: jax.Array) -> jax.Array:
        lead = obs.shape[: obs.ndim - len(self.obs_shape)]
        return obs.reshape(lead + (self.obs_dim,)).astype(jnp.float32)

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        """Resets every copy: ``(obs (num_envs, obs_dim), env_state)``."""
        obs, state = self._reset(jax.random.split(key, self.num_envs), self.params)
        return self._flat(obs), state

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> tuple[jax.Array, ...]:
        """Steps every copy (continuous actions are clipped to the action space).

        Args:
          key: one key; each copy gets its own split.
          state: the environments' state.
          action: ``(num_envs,)`` discrete or ``(num_envs, action_dim)`` continuous.

        Returns:
          ``(next_obs, state, reward, terminated, truncated, final_obs)``: observations
          ``(num_envs, obs_dim)``, the rest ``(num_envs,)``. An ended episode resets
          itself: ``next_obs`` is then the reset observation and ``final_obs`` the last
          one. ``truncated`` is the time limit only (false where ``terminated``).
        """
        keys = jax.random.split(key, self.num_envs)
        if self.continuous:
            action = jnp.clip(action, self.space.low, self.space.high)
        next_obs, state, reward, term, trunc, info = self._step(keys, state, action, self.params)
        next_obs = self._flat(next_obs)
        final_obs = self._flat(info["final_observation"])
        term = term.astype(bool)
        return next_obs, state, reward, term, trunc.astype(bool) & ~term, final_obs


class ObsStats(NamedTuple):
    """Running mean and variance of observations (parallel Welford updates)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, dim: int) -> ObsStats:
        """Statistics of nothing yet: mean 0, variance 1, for ``dim`` features."""
        return cls(jnp.zeros(dim), jnp.ones(dim), jnp.asarray(1e-4))

    def update(self, batch: jax.Array) -> ObsStats:
        """Merges in a ``(n, dim)`` batch of observations."""
        b_mean, b_var, n = batch.mean(0), batch.var(0), batch.shape[0]
        delta, total = b_mean - self.mean, self.count + n
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        return ObsStats(mean, m2 / total, total)

    def normalize(self, obs: jax.Array) -> jax.Array:
        """``obs`` standardised, clipped to [-10, 10]."""
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -10.0, 10.0)


class Transition(NamedTuple):
    """A rollout; every field has leading axes ``(num_steps, num_envs)``."""

    obs: jax.Array  # (T, N, obs_dim), normalised as the policy saw them
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    next_value: jax.Array  # V(true next state): the final observation at episode ends
    terminated: jax.Array
    truncated: jax.Array


class EnvCarry(NamedTuple):
    """What acting carries from one rollout to the next."""

    env_state: Any
    obs: jax.Array  # (num_envs, obs_dim), not normalised
    obs_stats: ObsStats
    episode_return: jax.Array  # (num_envs,) running return of each current episode


class Episodes(NamedTuple):
    """The episodes that ended during a rollout."""

    count: jax.Array
    return_sum: jax.Array


def rollout(
    model: nnx.Module,
    env: VecEnv,
    carry: EnvCarry,
    *,
    key: jax.Array,
    num_steps: int,
    normalize_obs: bool,
    unroll: int = 1,
) -> tuple[EnvCarry, Transition, Episodes]:
    """Acts ``num_steps`` steps in every environment with ``model``'s policy.

    Args:
      model: an :class:`~jaxdl.nn.actor_critic.ActorCritic` (``policy`` and ``value``).
      env: the environments.
      carry: their state, observations, observation statistics and running returns.
      key: the rollout's key; step ``t`` uses ``fold_in(key, t)``.
      num_steps: steps per environment.
      normalize_obs: feed the policy observations normalised by ``carry.obs_stats``;
        the statistics then take in the rollout's last observations.
      unroll: steps per iteration of the compiled loop (speed only).

    Returns:
      ``(carry, transitions, episodes)``: the carry for the next rollout, a
      :class:`Transition` of ``(num_steps, num_envs)`` leading axes, and the number
      and summed return of the episodes that ended.
    """
    stats = carry.obs_stats
    norm = stats.normalize if normalize_obs else (lambda o: o)

    # The sequential loop runs only what acting needs (the policy and the environment).
    # The critic's values of the observations and of the true next states are computed
    # after it, for the whole rollout in one batched call each: the same numbers, at a
    # fraction of the cost of 2 * num_steps small calls.
    def step(loop, t):
        env_state, obs, ep_ret = loop
        act_key, env_key = jax.random.split(jax.random.fold_in(key, t))
        pi = model.policy(norm(obs))
        action = pi.sample(act_key)
        log_prob = pi.log_prob(action)
        next_obs, env_state, reward, term, trunc, final_obs = env.step(env_key, env_state, action)
        done = term | trunc
        ep_ret = ep_ret + reward
        ended = (jnp.sum(done), jnp.sum(jnp.where(done, ep_ret, 0.0)))
        out = (norm(obs), action, log_prob, reward.astype(jnp.float32), norm(final_obs))
        return (env_state, next_obs, jnp.where(done, 0.0, ep_ret)), (out, term, trunc, ended)

    loop = (carry.env_state, carry.obs, carry.episode_return)
    (env_state, obs, ep_ret), (out, term, trunc, ended) = jax.lax.scan(
        step, loop, jnp.arange(num_steps), unroll=unroll
    )
    obs_seq, action, log_prob, reward, final_obs = out
    value, next_value = model.value(obs_seq), model.value(final_obs)
    traj = Transition(obs_seq, action, log_prob, value, reward, next_value, term, trunc)
    if normalize_obs:
        # Statistics move between rollouts only, so a rollout is normalised consistently.
        stats = stats.update(obs)
    carry = EnvCarry(env_state, obs, stats, ep_ret)
    return carry, traj, Episodes(jnp.sum(ended[0]), jnp.sum(ended[1]))


def random_policy_return(
    env_name: str, *, key: jax.Array, num_envs: int = 64, num_steps: int = 2000
) -> float:
    """Mean return of the episodes a uniformly random policy finishes (a reference).

    Args:
      env_name: a registered gymnax environment.
      key: drives the resets, the actions and the environments.
      num_envs: environments run in parallel.
      num_steps: steps per environment.

    Returns:
      The mean return over all finished episodes (0 if none finished).

    Raises:
      ValueError: ``env_name`` is not a gymnax environment.
    """
    env, params = make_env(env_name)
    space = env.action_space(params)
    keys = jax.random.split(key, num_envs)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

    @jax.jit
    def run(state, key):
        def step(carry, t):
            state, ret = carry
            k = jax.random.fold_in(key, t)
            ka, ks = jax.random.split(k)
            actions = jax.vmap(space.sample)(jax.random.split(ka, num_envs))
            _, state, r, term, trunc, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(ks, num_envs), state, actions, params
            )
            done = term.astype(bool) | trunc.astype(bool)
            ret = ret + r
            return (state, jnp.where(done, 0.0, ret)), (jnp.sum(done), jnp.sum(ret * done))

        _, (n, total) = jax.lax.scan(step, (state, jnp.zeros(num_envs)), jnp.arange(num_steps))
        return n.sum(), total.sum()

    n, total = run(state, key)
    return float(total / max(int(n), 1))
