"""PPO with GAE on vectorised gymnax environments, the whole training run compiled.

``make_train(config)`` returns ``train(key)``: environment steps, rollouts, advantages
and every update live in one ``lax.scan``, so ``jax.jit(jax.vmap(train))(keys)`` trains
many seeds (or hyperparameters set through ``config``) at once, the purejaxrl pattern.

Time limits are handled as such: at a truncated step the advantage bootstraps from the
value of the final observation (gymnax 1.0's ``info["final_observation"]``), while a
terminated step has no future. See :mod:`jaxdl.losses._rl`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from gymnax.environments import spaces

from jaxdl.errors import ConfigError
from jaxdl.losses import generalized_advantages, ppo_clip_loss, value_loss
from jaxdl.nn.actor_critic import ActorCritic
from jaxdl.training.state import TrainState

# The fields ``make_train`` reads (an ml_collections.ConfigDict or any mapping).
CONFIG_FIELDS = (
    "env_name",
    "num_envs",
    "num_steps",
    "total_timesteps",
    "update_epochs",
    "num_minibatches",
    "learning_rate",
    "anneal_lr",
    "gamma",
    "gae_lambda",
    "clip_eps",
    "clip_value",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "hidden",
    "normalize_obs",
)


def make_env(name: str) -> tuple[Any, Any]:
    """``gymnax.make(name)``; an unknown name lists the available environments."""
    if name not in gymnax.registered_envs:
        raise ConfigError(
            f"There is no gymnax environment {name!r}; available: "
            f"{', '.join(gymnax.registered_envs)}."
        )
    return gymnax.make(name)


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    next_value: jax.Array  # V(true next state): the final observation at episode ends
    terminated: jax.Array
    truncated: jax.Array


class ObsStats(NamedTuple):
    """Running mean and variance of observations (parallel Welford updates)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, dim: int) -> ObsStats:
        return cls(jnp.zeros(dim), jnp.ones(dim), jnp.asarray(1e-4))

    def update(self, batch: jax.Array) -> ObsStats:
        b_mean, b_var, n = batch.mean(0), batch.var(0), batch.shape[0]
        delta, total = b_mean - self.mean, self.count + n
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        return ObsStats(mean, m2 / total, total)

    def normalize(self, obs: jax.Array) -> jax.Array:
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -10.0, 10.0)


class Runner(NamedTuple):
    """What the training scan carries from update to update."""

    state: TrainState
    env_state: Any
    obs: jax.Array
    obs_stats: ObsStats
    episode_return: jax.Array  # running return of each environment's current episode
    last_return: jax.Array  # metric carried over updates in which no episode ended
    key: jax.Array


def _check(config: Mapping[str, Any]) -> dict[str, Any]:
    missing = [f for f in CONFIG_FIELDS if f not in config]
    if missing:
        raise ConfigError(f"The PPO config lacks {missing}.")
    c = {f: config[f] for f in CONFIG_FIELDS}
    batch = c["num_envs"] * c["num_steps"]
    if c["num_minibatches"] < 1 or batch % c["num_minibatches"]:
        raise ConfigError(
            f"config.num_minibatches is {c['num_minibatches']}, which does not divide the "
            f"{batch} transitions of a rollout (num_envs x num_steps); pick a divisor."
        )
    c["num_updates"] = int(c["total_timesteps"]) // batch
    if c["num_updates"] < 1:
        raise ConfigError(
            f"config.total_timesteps is {c['total_timesteps']}, less than one rollout of "
            f"{batch} steps."
        )
    c["minibatch_size"] = batch // c["num_minibatches"]
    # Optional: rollout steps per loop iteration (a speed knob; results are unchanged).
    c["rollout_unroll"] = int(config.get("rollout_unroll", 1))
    if c["rollout_unroll"] < 1:
        raise ConfigError(f"config.rollout_unroll is {c['rollout_unroll']}, expected >= 1.")
    return c


def make_train(
    config: Mapping[str, Any],
    *,
    callback: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> Callable[[jax.Array], dict[str, Any]]:
    """Builds ``train(key) -> {"state", "metrics"}`` for one seed; pure, vmappable.

    ``metrics`` holds arrays over updates: ``episode_return`` (mean return of the
    episodes that ended during the update's rollout; the previous value if none did),
    ``env_steps``, ``actor_loss``, ``value_loss``, ``entropy``, ``approx_kl``.
    ``callback(metrics_of_one_update)`` is called from inside the compiled run through
    ``jax.debug.callback`` (for progress bars and logs); under ``vmap`` it is called once
    per seed.
    """
    c = _check(config)
    env, env_params = make_env(c["env_name"])
    obs_shape = env.observation_space(env_params).shape
    obs_dim = int(np.prod(obs_shape))
    space = env.action_space(env_params)
    continuous = isinstance(space, spaces.Box)
    action_dim = int(np.prod(space.shape)) if continuous else int(space.n)
    num_envs, num_steps = c["num_envs"], c["num_steps"]

    def schedule(count):
        frac = 1.0 - (count // (c["num_minibatches"] * c["update_epochs"])) / c["num_updates"]
        return c["learning_rate"] * frac if c["anneal_lr"] else c["learning_rate"]

    tx = optax.chain(
        optax.clip_by_global_norm(c["max_grad_norm"]),
        optax.adam(schedule if c["anneal_lr"] else c["learning_rate"], eps=1e-5),
    )

    def flat(obs):
        return obs.reshape(obs.shape[: obs.ndim - len(obs_shape)] + (obs_dim,))

    def clip_action(a):
        return jnp.clip(a, space.low, space.high) if continuous else a

    v_reset = jax.vmap(env.reset, in_axes=(0, None))
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def train(key: jax.Array) -> dict[str, Any]:
        key, init_key, reset_key = jax.random.split(key, 3)
        model = ActorCritic(
            obs_dim,
            action_dim,
            hidden=tuple(c["hidden"]),
            continuous=continuous,
            rngs=nnx.Rngs(params=init_key),
        )
        state = TrainState.create(model, tx, key=key)
        obs, env_state = v_reset(jax.random.split(reset_key, num_envs), env_params)
        obs = flat(obs).astype(jnp.float32)
        stats = ObsStats.create(obs_dim)
        if c["normalize_obs"]:
            stats = stats.update(obs)
        runner = Runner(state, env_state, obs, stats, jnp.zeros(num_envs), jnp.zeros(()), key)
        runner, metrics = jax.lax.scan(update, runner, jnp.arange(c["num_updates"]))
        return {"state": runner.state, "metrics": metrics, "obs_stats": runner.obs_stats}

    def update(runner: Runner, i: jax.Array):
        # One key per update, split into independent streams for acting and shuffling.
        act_key, shuffle_key = jax.random.split(jax.random.fold_in(runner.key, i))
        runner, traj, ended = rollout(runner, act_key)
        advantages = generalized_advantages(
            traj.reward,
            traj.value,
            traj.next_value,
            traj.terminated,
            traj.truncated,
            discount=c["gamma"],
            gae_lambda=c["gae_lambda"],
        )
        targets = advantages + traj.value
        state, losses = learn(runner.state, traj, advantages, targets, shuffle_key)
        finished, total = ended
        ep_return = jnp.where(finished > 0, total / jnp.maximum(finished, 1), runner.last_return)
        runner = runner._replace(state=state, last_return=ep_return)
        metrics = {
            "episode_return": ep_return,
            "episodes": finished,
            "env_steps": (i + 1) * num_envs * num_steps,
            **losses,
        }
        if callback is not None:
            jax.debug.callback(callback, metrics)
        return runner, metrics

    def rollout(runner: Runner, key: jax.Array):
        model = runner.state.model()
        stats = runner.obs_stats
        norm = stats.normalize if c["normalize_obs"] else (lambda o: o)

        # The sequential loop runs only what acting needs (the policy and the
        # environment). The critic's values of the observations and of the true next
        # states are computed after it, for the whole rollout in one batched call each:
        # the same numbers, at a fraction of the cost of 2 * num_steps small calls.
        def step(carry, t):
            env_state, obs, ep_ret = carry
            act_key, env_key = jax.random.split(jax.random.fold_in(key, t))
            pi = model.policy(norm(obs))
            action = pi.sample(act_key)
            log_prob = pi.log_prob(action)
            next_obs, env_state, reward, term, trunc, info = v_step(
                jax.random.split(env_key, num_envs), env_state, clip_action(action), env_params
            )
            next_obs = flat(next_obs).astype(jnp.float32)
            final_obs = flat(info["final_observation"]).astype(jnp.float32)
            term, trunc = term.astype(bool), trunc.astype(bool) & ~term.astype(bool)
            done = term | trunc
            ep_ret = ep_ret + reward
            ended = (jnp.sum(done), jnp.sum(jnp.where(done, ep_ret, 0.0)))
            out = (norm(obs), action, log_prob, reward.astype(jnp.float32), norm(final_obs))
            return (env_state, next_obs, jnp.where(done, 0.0, ep_ret)), (out, term, trunc, ended)

        carry = (runner.env_state, runner.obs, runner.episode_return)
        (env_state, obs, ep_ret), (out, term, trunc, ended) = jax.lax.scan(
            step, carry, jnp.arange(num_steps), unroll=c["rollout_unroll"]
        )
        obs_seq, action, log_prob, reward, final_obs = out
        traj = Transition(
            obs_seq,
            action,
            log_prob,
            model.value(obs_seq),
            reward,
            model.value(final_obs),
            term,
            trunc,
        )
        if c["normalize_obs"]:
            # Statistics move between rollouts only, so a rollout is normalised consistently.
            stats = stats.update(obs)
        runner = runner._replace(
            env_state=env_state, obs=obs, obs_stats=stats, episode_return=ep_ret
        )
        return runner, traj, (jnp.sum(ended[0]), jnp.sum(ended[1]))

    def loss_fn(params, graphdef, rest, batch, adv, target):
        pi, value = nnx.merge(graphdef, params, rest, copy=True)(batch.obs)
        log_prob = pi.log_prob(batch.action)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        actor = ppo_clip_loss(log_prob, batch.log_prob, adv, clip_eps=c["clip_eps"]).mean()
        critic = value_loss(
            value,
            target,
            old_values=batch.value,
            clip_eps=c["clip_eps"] if c["clip_value"] else None,
        ).mean()
        entropy = pi.entropy().mean()
        total = actor + c["vf_coef"] * critic - c["ent_coef"] * entropy
        approx_kl = jnp.mean(batch.log_prob - log_prob)
        return total, {
            "actor_loss": actor,
            "value_loss": critic,
            "entropy": entropy,
            "approx_kl": approx_kl,
        }

    def learn(state: TrainState, traj: Transition, adv, target, key):
        batch_size = num_envs * num_steps
        data = jax.tree.map(lambda x: x.reshape((batch_size,) + x.shape[2:]), (traj, adv, target))

        def epoch(state, e):
            perm = jax.random.permutation(jax.random.fold_in(key, e), batch_size)
            shuffled = jax.tree.map(
                lambda x: x[perm].reshape((c["num_minibatches"], -1) + x.shape[1:]), data
            )

            def minibatch(state, mb):
                b, a, t = mb
                grads, aux = jax.grad(loss_fn, has_aux=True)(
                    state.params, state.graphdef, state.model_state, b, a, t
                )
                return state.apply_gradients(grads, state.model_state), aux

            return jax.lax.scan(minibatch, state, shuffled)

        state, aux = jax.lax.scan(epoch, state, jnp.arange(c["update_epochs"]))
        return state, jax.tree.map(jnp.mean, aux)

    return train


def random_policy_return(
    env_name: str, *, key: jax.Array, num_envs: int = 64, num_steps: int = 2000
) -> float:
    """Mean return of the episodes a uniformly random policy finishes (a reference)."""
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


def num_params(state: TrainState) -> int:
    return sum(math.prod(x.shape) for x in jax.tree.leaves(state.params))
