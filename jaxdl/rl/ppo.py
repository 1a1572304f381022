"""PPO with GAE on vectorised gymnax environments, compiled updates.

One update is :func:`update`: a :func:`~jaxdl.rl.rollout.rollout`, :func:`advantages`,
then ``update_epochs`` passes of :func:`update_epoch` over shuffled minibatches of the
rollout, each minibatch a gradient step on :func:`ppo_loss`. Update ``i`` draws its
randomness from ``fold_in(runner.key, i)`` only, so the updates can run in any grouping:

- ``make_train(config)`` returns ``train(key)``, the whole run in one ``lax.scan``, so
  ``jax.jit(jax.vmap(train))(keys)`` trains many seeds at once (the purejaxrl pattern);
  with ``keys`` placed on a ``runs`` mesh (``NamedSharding(mesh, P("runs"))``) the
  seeds split over its devices, on a CPU its cores (:mod:`jaxdl.parallel.cpu`);
- :func:`make_step` is one update as a step of the library's training engine
  (:func:`jaxdl.training.train` with ``step_fn=``, over a stack of :func:`init_runner`
  runners with ``vmapped=True``), which runs the updates in compiled chunks of an epoch,
  logs and checkpoints between them and resumes a killed run bit-identically.

For one seed both give the same numbers to the last bit. Over seeds they may differ in
the last bits: under ``vmap`` of ``make_train`` Adam's step count is one scalar shared by
the seeds (it depends on no seed), in a stack of runners each seed has its own, and XLA
compiles Adam's arithmetic differently for the two.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxdl.losses import generalized_advantages, ppo_clip_loss, value_loss
from jaxdl.nn.actor_critic import ActorCritic
from jaxdl.rl.config import PPOConfig
from jaxdl.rl.rollout import EnvCarry, ObsStats, Transition, VecEnv, rollout
from jaxdl.training.state import TrainState, all_finite

Metrics = dict[str, jax.Array]


class Runner(NamedTuple):
    """What the training scan carries from update to update.

    ``step`` counts the updates done (``state.step`` counts the optimiser's minibatch
    steps); it is the step counter the training engine reads, logs and resumes from.
    """

    state: TrainState
    envs: EnvCarry
    last_return: jax.Array  # metric carried over updates in which no episode ended
    key: jax.Array
    step: jax.Array


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Adam after global-norm clipping; the learning rate falls linearly to 0 over the
    run's updates with ``config.anneal_lr`` (one step per minibatch)."""
    c = config

    def schedule(count):
        frac = 1.0 - (count // (c.num_minibatches * c.update_epochs)) / c.num_updates
        return c.learning_rate * frac

    return optax.chain(
        optax.clip_by_global_norm(c.max_grad_norm),
        optax.adam(schedule if c.anneal_lr else c.learning_rate, eps=1e-5),
    )


def advantages(traj: Transition, *, gamma: float, gae_lambda: float) -> tuple[jax.Array, ...]:
    """GAE advantages and value targets of a rollout.

    Args:
      traj: a rollout, fields ``(T, N)``.
      gamma: discount factor.
      gae_lambda: GAE's lambda.

    Returns:
      ``(advantages, targets)``, both ``(T, N)``; ``targets = advantages + traj.value``.
    """
    adv = generalized_advantages(
        traj.reward,
        traj.value,
        traj.next_value,
        traj.terminated,
        traj.truncated,
        discount=gamma,
        gae_lambda=gae_lambda,
    )
    return adv, adv + traj.value


def ppo_loss(
    params: nnx.State,
    graphdef: nnx.GraphDef,
    rest: nnx.State,
    batch: Transition,
    adv: jax.Array,
    target: jax.Array,
    *,
    config: PPOConfig,
) -> tuple[jax.Array, Metrics]:
    """PPO's loss on a minibatch: clipped actor loss, (clipped) value loss, entropy bonus.

    Args:
      params: the actor-critic's parameters (differentiated).
      graphdef: its structure.
      rest: its other variables.
      batch: transitions with leading axis ``(B,)``.
      adv: ``(B,)`` advantages, standardised here per minibatch.
      target: ``(B,)`` value targets.
      config: the coefficients ``clip_eps``, ``clip_value``, ``vf_coef``, ``ent_coef``.

    Returns:
      ``(loss, metrics)``: the scalar loss and its ``actor_loss``, ``value_loss``,
      ``entropy`` and ``approx_kl``.
    """
    c = config
    pi, value = nnx.merge(graphdef, params, rest, copy=True)(batch.obs)
    log_prob = pi.log_prob(batch.action)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    actor = ppo_clip_loss(log_prob, batch.log_prob, adv, clip_eps=c.clip_eps).mean()
    critic = value_loss(
        value,
        target,
        old_values=batch.value,
        clip_eps=c.clip_eps if c.clip_value else None,
    ).mean()
    entropy = pi.entropy().mean()
    total = actor + c.vf_coef * critic - c.ent_coef * entropy
    approx_kl = jnp.mean(batch.log_prob - log_prob)
    return total, {
        "actor_loss": actor,
        "value_loss": critic,
        "entropy": entropy,
        "approx_kl": approx_kl,
    }


def update_epoch(
    state: TrainState, data: tuple[Any, ...], key: jax.Array, *, config: PPOConfig
) -> tuple[TrainState, Metrics]:
    """One pass over a flattened rollout in ``config.num_minibatches`` shuffled minibatches.

    Args:
      state: the train state.
      data: ``(transitions, advantages, targets)`` with leading axis
        ``(num_envs * num_steps,)``.
      key: the pass's shuffling key.
      config: the run's configuration.

    Returns:
      ``(state, metrics)``: the state after one gradient step per minibatch, and
      :func:`ppo_loss`'s metrics per minibatch, ``(num_minibatches,)``.
    """
    perm = jax.random.permutation(key, config.batch_size)
    shuffled = jax.tree.map(
        lambda x: x[perm].reshape((config.num_minibatches, -1) + x.shape[1:]), data
    )
    grad_fn = jax.grad(functools.partial(ppo_loss, config=config), has_aux=True)

    def minibatch(state, mb):
        b, a, t = mb
        grads, aux = grad_fn(state.params, state.graphdef, state.model_state, b, a, t)
        return state.apply_gradients(grads, state.model_state), aux

    return jax.lax.scan(minibatch, state, shuffled)


def learn(
    state: TrainState,
    traj: Transition,
    adv: jax.Array,
    target: jax.Array,
    key: jax.Array,
    *,
    config: PPOConfig,
) -> tuple[TrainState, Metrics]:
    """``config.update_epochs`` passes of :func:`update_epoch` over a rollout.

    Args:
      state: the train state.
      traj: the rollout, fields ``(T, N)``.
      adv: ``(T, N)`` advantages.
      target: ``(T, N)`` value targets.
      key: pass ``e`` shuffles with ``fold_in(key, e)``.
      config: the run's configuration.

    Returns:
      ``(state, metrics)``: the updated state and the loss metrics averaged over all
      minibatches.
    """
    n = config.batch_size
    data = jax.tree.map(lambda x: x.reshape((n,) + x.shape[2:]), (traj, adv, target))

    def epoch(state, e):
        return update_epoch(state, data, jax.random.fold_in(key, e), config=config)

    state, aux = jax.lax.scan(epoch, state, jnp.arange(config.update_epochs))
    return state, jax.tree.map(jnp.mean, aux)


def update(
    runner: Runner, i: jax.Array, *, env: VecEnv, config: PPOConfig
) -> tuple[Runner, Metrics]:
    """Update ``i`` of the run: a rollout, its advantages, then the minibatch epochs.

    Args:
      runner: the state carried between updates.
      i: the update's index; its keys derive from ``fold_in(runner.key, i)``.
      env: the environments.
      config: the run's configuration.

    Returns:
      ``(runner, metrics)``, the runner's ``step`` one more; the metrics are scalars:
      ``episode_return`` (mean return of the episodes that ended in the rollout; the
      previous value if none did), ``episodes``, ``env_steps`` (after this update) and
      the loss metrics.
    """
    # One key per update, split into independent streams for acting and shuffling.
    act_key, shuffle_key = jax.random.split(jax.random.fold_in(runner.key, i))
    envs, traj, ended = rollout(
        runner.state.model(),
        env,
        runner.envs,
        key=act_key,
        num_steps=config.num_steps,
        normalize_obs=config.normalize_obs,
        unroll=config.rollout_unroll,
    )
    adv, targets = advantages(traj, gamma=config.gamma, gae_lambda=config.gae_lambda)
    state, losses = learn(runner.state, traj, adv, targets, shuffle_key, config=config)
    finished, total = ended
    ep_return = jnp.where(finished > 0, total / jnp.maximum(finished, 1), runner.last_return)
    runner = Runner(state, envs, ep_return, runner.key, runner.step + 1)
    metrics = {
        "episode_return": ep_return,
        "episodes": finished,
        "env_steps": (i + 1) * config.num_envs * config.num_steps,
        **losses,
    }
    return runner, metrics


def init_runner(key: jax.Array, *, env: VecEnv, config: PPOConfig) -> Runner:
    """A fresh actor-critic, optimiser and set of reset environments, from ``key``."""
    key, init_key, reset_key = jax.random.split(key, 3)
    model = ActorCritic(
        env.obs_dim,
        env.action_dim,
        hidden=config.hidden,
        continuous=env.continuous,
        rngs=nnx.Rngs(params=init_key),
    )
    # The state's key and the runner's are the same key but must be two buffers: the
    # engine donates the runner, and one buffer may not be donated twice.
    state = TrainState.create(model, make_optimizer(config), key=jax.random.clone(key))
    obs, env_state = env.reset(reset_key)
    stats = ObsStats.create(env.obs_dim)
    if config.normalize_obs:
        stats = stats.update(obs)
    envs = EnvCarry(env_state, obs, stats, jnp.zeros(env.num_envs))
    return Runner(state, envs, jnp.zeros(()), key, jnp.zeros((), jnp.int32))


def guarded_update(
    runner: Runner, bad_step: jax.Array, *, env: VecEnv, config: PPOConfig
) -> tuple[Runner, jax.Array, Metrics]:
    """:func:`update` number ``runner.step`` that refuses a non-finite update.

    The contract of :func:`jaxdl.training.step.guarded_train_step`: ``bad_step`` is
    ``-1`` while all is well; the first update whose losses or new parameters are not
    finite records its number there, and from then on every update is dropped (the whole
    runner, environments included, stays as it was), so the caller gets the last good
    runner and learns where training broke.

    Args:
      runner: the state carried between updates.
      bad_step: int32 scalar, ``-1`` or the first bad update so far.
      env: the environments.
      config: the run's configuration.

    Returns:
      ``(runner, bad_step, metrics)``, the metrics those of :func:`update`.
    """
    new, metrics = update(runner, runner.step, env=env, config=config)
    losses = [metrics[k] for k in ("actor_loss", "value_loss", "entropy", "approx_kl")]
    ok = all_finite(losses) & all_finite(new.state.params) & (bad_step < 0)
    bad_step = jnp.where(ok | (bad_step >= 0), bad_step, runner.step)
    kept = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, runner)
    return kept, bad_step, metrics


def make_step(
    config: PPOConfig,
) -> Callable[[Runner, Any, jax.Array], tuple[Runner, jax.Array, Metrics]]:
    """One PPO update as a step of :func:`jaxdl.training.train` (its ``step_fn``).

    Train a stack of runners (one per seed, ``jax.vmap(init_runner)``) with
    ``train(runners, FullBatch(None, steps_per_epoch=...), loss_fn=None,
    step_fn=make_step(config), num_steps=config.num_updates, vmapped=True)``: each
    engine step is update ``runner.step``, drawing its randomness from that number only,
    so the run's numbers do not depend on how the engine cuts it into chunks or where
    it resumes (see the module docstring for how they compare with :func:`make_train`).

    Args:
      config: the run's hyperparameters.

    Returns:
      ``step(runner, batch, bad_step) -> (runner, bad_step, metrics)``; ``batch`` is
      ignored (PPO makes its own data), the metrics are :func:`update`'s without
      ``env_steps`` (``runner.step * config.batch_size`` after the step).

    Raises:
      TypeError: ``config`` is not a :class:`PPOConfig`.
    """
    if not isinstance(config, PPOConfig):
        raise TypeError(f"config is a {type(config).__name__}, expected a PPOConfig.")
    env = VecEnv(config.env_name, num_envs=config.num_envs)

    def step(runner: Runner, batch: Any, bad_step: jax.Array):
        del batch
        runner, bad_step, metrics = guarded_update(runner, bad_step, env=env, config=config)
        return runner, bad_step, {k: v for k, v in metrics.items() if k != "env_steps"}

    return step


def make_train(
    config: PPOConfig,
    *,
    callback: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> Callable[[jax.Array], dict[str, Any]]:
    """Builds ``train(key) -> {"state", "metrics", "obs_stats"}`` for one seed; pure,
    jittable and vmappable (``jax.jit(jax.vmap(train))(keys)`` trains many seeds).

    Args:
      config: the run's hyperparameters.
      callback: called as ``callback(metrics_of_one_update)`` from inside the compiled
        run through ``jax.debug.callback`` (progress bars, logs); under ``vmap`` once
        per seed.

    Returns:
      ``train(key)``, whose ``metrics`` hold arrays of shape ``(num_updates,)`` (per
      seed): ``episode_return`` (mean return of the episodes that ended during the
      update's rollout; the previous value if none did), ``episodes``, ``env_steps``,
      ``actor_loss``, ``value_loss``, ``entropy``, ``approx_kl``; ``state`` is the
      final :class:`~jaxdl.training.state.TrainState` and ``obs_stats`` the final
      observation statistics.

    Raises:
      TypeError: ``config`` is not a :class:`PPOConfig`.
    """
    if not isinstance(config, PPOConfig):
        raise TypeError(f"config is a {type(config).__name__}, expected a PPOConfig.")
    env = VecEnv(config.env_name, num_envs=config.num_envs)

    def step(runner: Runner, i: jax.Array) -> tuple[Runner, Metrics]:
        runner, metrics = update(runner, i, env=env, config=config)
        if callback is not None:
            jax.debug.callback(callback, metrics)
        return runner, metrics

    def train(key: jax.Array) -> dict[str, Any]:
        runner = init_runner(key, env=env, config=config)
        runner, metrics = jax.lax.scan(step, runner, jnp.arange(config.num_updates))
        return {"state": runner.state, "metrics": metrics, "obs_stats": runner.envs.obs_stats}

    return train


def num_params(state: TrainState) -> int:
    """Number of trainable parameters in ``state`` (of one seed).

    Args:
      state: the train state of one seed (not a vmapped stack, whose leading seed axis
        would be counted too).

    Returns:
      The sum of the sizes of the leaves of ``state.params``.
    """
    return sum(math.prod(x.shape) for x in jax.tree.leaves(state.params))
