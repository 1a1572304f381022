"""PPO (seed 001, "Reinforcement Learning"): seeds vmapped, updates through the engine.

All seeds train together as one stack of :class:`~jaxdl.rl.ppo.Runner` (``vmapped``);
one engine step is one PPO update (:func:`jaxdl.rl.ppo.make_step`) and one epoch is
``config.updates_per_epoch`` updates, compiled as one call. After each epoch the run
logs a record and checkpoints the runners, so ``--config.resume=true`` continues a
killed run with the same numbers an uninterrupted one gets.

``--config.mesh=runs=8`` splits the seeds over 8 devices (each trains
``num_seeds / 8`` of them; ``num_seeds`` must be a multiple of the ``runs`` size),
equal to one device's up to float rounding; ``--config.mesh=data=2`` replicates the
runners on both devices (PPO makes its own data, so there is no batch to split).
Without a mesh, on a CPU host, ``config.cpu_devices`` (default -1: one per core) exposes
the cores as XLA devices and splits the seeds over them (a ``runs`` mesh over as many
devices as divide ``num_seeds``): PPO's small matmuls keep one core busy each, so one
device leaves the other cores idle (:mod:`jaxdl.parallel.cpu`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxdl.parallel import check_num_runs
from jaxdl.rl import (
    PPOConfig,
    Runner,
    VecEnv,
    init_runner,
    make_step,
    num_params,
    random_policy_return,
)
from jaxdl.training import FullBatch, make_chunk, train
from jaxdl.viz import plot_band

from .. import _common
from .._common import open_run
from ..cli_config import ConfigError

LAST = 10  # updates averaged for the final return, as in the criterion


def build(config: ml_collections.ConfigDict) -> PPOConfig:
    """The library's typed config from the recipe's; a mistake is one sentence."""
    for name in ("num_seeds", "updates_per_epoch"):
        if not (isinstance(config[name], int) and config[name] >= 1):
            raise ConfigError(f"config.{name} is {config[name]!r}, expected an integer >= 1.")
    try:
        return PPOConfig(**{f.name: config[f.name] for f in dataclasses.fields(PPOConfig)})
    except ValueError as e:
        raise ConfigError(f"config.{e}") from None


class _Compiled:
    """The engine's chunk, compiled ahead of its first call per length so the run can
    report compilation and training time apart (a jitted call would do both at once)."""

    def __init__(self, chunk):
        self.chunk, self.executables, self.compile_s = chunk, {}, 0.0

    def __call__(self, state, data, inputs, length):
        if length not in self.executables:
            t0 = time.perf_counter()
            self.executables[length] = self.chunk.lower(state, data, inputs, length).compile()
            self.compile_s += time.perf_counter() - t0
        return self.executables[length](state, data, inputs)


def _returns(batch_size: int):
    """The epoch's record entries from the runners at its end: environment steps and
    the last update's return over seeds (what the old per-update records held)."""

    def hook(epoch: int, runners: Runner) -> dict[str, Any]:
        last, steps = jax.device_get((runners.last_return, runners.step))
        return {
            "env_steps": int(np.max(steps)) * batch_size,
            "return_mean": float(last.mean()),
            "return_min": float(last.min()),
            "return_max": float(last.max()),
        }

    return hook


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    mesh = _common.setup(config)
    ppo = build(config)
    if mesh is None:
        mesh = _common.cpu_runs_mesh(config, config.num_seeds)
    if mesh is not None:
        check_num_runs(config.num_seeds, mesh, name="config.num_seeds")
    env = VecEnv(ppo.env_name, num_envs=ppo.num_envs)
    keys = jax.random.split(jax.random.key(config.seed), config.num_seeds)
    runners = jax.jit(jax.vmap(functools.partial(init_runner, env=env, config=ppo)))(keys)
    # PPO makes its own data: the source feeds nothing and only sets the epoch length.
    source = FullBatch(None, steps_per_epoch=config.updates_per_epoch)
    chunk = _Compiled(make_chunk(None, source, vmapped=True, step_fn=make_step(ppo), mesh=mesh))
    with open_run(config, workdir, "ppo", curves=False) as run:
        t0 = time.perf_counter()
        result = train(
            runners,
            source,
            loss_fn=None,
            num_epochs=math.ceil(ppo.num_updates / config.updates_per_epoch),
            num_steps=ppo.num_updates,
            run=run,
            hooks=[_returns(ppo.batch_size)],
            steps_per_dispatch=0,
            vmapped=True,
            mesh=mesh,
            keep_step_metrics=True,
            progress=config.progress,
            desc="ppo",
            chunk_fn=chunk,
            examples_per_step=config.num_seeds * ppo.batch_size,  # environment steps
            epoch_lines=config.progress,
        )
        train_s = time.perf_counter() - t0 - chunk.compile_s
        trained_updates = ppo.num_updates - result.resumed_at

        returns = result.step_metrics["episode_return"]  # (seeds, updates), restored ones too
        env_steps = ppo.batch_size * np.arange(1, returns.shape[1] + 1)
        if (path := run.path("returns.png")) is not None:
            plot_band(
                env_steps,
                returns,
                path,
                xlabel="environment steps (per seed)",
                ylabel="episodic return",
                title=config.env_name,
                label="mean of {n} seeds",
            )
        final = returns[:, -LAST:].mean(1)  # per seed
        random_return = random_policy_return(config.env_name, key=jax.random.key(config.seed + 1))
        metrics = {
            "mean_return": float(final.mean()),
            "min_seed_return": float(final.min()),
            "seeds_solved": int((final >= config.solved_return).sum()),
            "num_seeds": int(config.num_seeds),
            "random_policy_return": random_return,
            # This call's updates over its time without compilation, logs and
            # checkpoints included (a resumed run counts only what it trained).
            "env_steps_per_s": config.num_seeds * trained_updates * ppo.batch_size / train_s
            if trained_updates
            else 0.0,
            "compile_s": chunk.compile_s,
        }
        return run.finish(
            metrics,
            per_seed_return=[round(float(x), 2) for x in final],
            devices=1 if mesh is None else int(mesh.devices.size),
            num_params=num_params(jax.tree.map(lambda a: a[0], result.state.state)),
        )
