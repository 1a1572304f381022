"""PPO (seed 001, "Reinforcement Learning"): whole runs compiled and vmapped over seeds."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from jaxdl.rl import PPOConfig, make_train, num_params, random_policy_return
from jaxdl.training import Run
from jaxdl.viz import plot_band
from train.cli_config import ConfigError

LAST = 10  # updates averaged for the final return, as in the criterion
LOSSES = ("actor_loss", "value_loss", "entropy", "approx_kl")


class _Progress:
    """Host side of the in-graph callback: one bar over environment steps.

    Under vmap the callback runs once per seed with that seed's metrics; the bar moves
    when the first seed reaches a new update.
    """

    def __init__(self, total: int, enabled: bool):
        self.bar = tqdm(total=total, disable=not enabled, unit="step", unit_scale=True)

    def __call__(self, metrics: dict[str, Any]) -> None:
        steps = int(np.max(metrics["env_steps"]))
        if steps > self.bar.n:
            self.bar.update(steps - self.bar.n)
            self.bar.set_postfix(ret=f"{float(np.mean(metrics['episode_return'])):.1f}")


def build(config: ml_collections.ConfigDict) -> PPOConfig:
    """The library's typed config from the recipe's; a mistake is one sentence."""
    if config.num_seeds < 1:
        raise ConfigError(f"config.num_seeds is {config.num_seeds}, expected >= 1.")
    try:
        return PPOConfig(**{f.name: config[f.name] for f in dataclasses.fields(PPOConfig)})
    except ValueError as e:
        raise ConfigError(f"config.{e}") from None


def log_updates(run: Run, m: dict[str, np.ndarray]) -> None:
    """One metrics record per update, over seeds (``m``'s arrays are (seeds, updates))."""
    env_steps = m["env_steps"][0]
    for u in range(env_steps.shape[0]):
        r = m["episode_return"][:, u]
        record = {
            "update": u + 1,
            "env_steps": int(env_steps[u]),
            "return_mean": float(r.mean()),
            "return_min": float(r.min()),
            "return_max": float(r.max()),
        }
        record.update({k: float(m[k][:, u].mean()) for k in LOSSES})
        run.log(record, step=int(env_steps[u]))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    ppo = build(config)
    # PPO keeps its algorithm-internal scan (the whole run is one compiled program), so
    # it uses the run lifecycle without the engine's train loop; it has no resume.
    with Run(
        workdir, recipe="ppo", config=config.to_dict(), resume=False, max_to_keep=1, curves=False
    ) as run:
        progress = _Progress(ppo.total_timesteps, config.progress)
        train = jax.jit(jax.vmap(make_train(ppo, callback=progress)))
        keys = jax.random.split(jax.random.key(config.seed), config.num_seeds)
        compiled = train.lower(keys).compile()
        compile_s = run.elapsed()
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(keys))
        run_s = time.perf_counter() - t0
        progress.bar.close()

        m = jax.tree.map(np.asarray, out["metrics"])  # (seeds, updates)
        env_steps = m["env_steps"][0]
        log_updates(run, m)
        if (path := run.path("returns.png")) is not None:
            plot_band(
                env_steps,
                m["episode_return"],
                path,
                xlabel="environment steps (per seed)",
                ylabel="episodic return",
                title=config.env_name,
                label="mean of {n} seeds",
            )
        run.save(int(env_steps[-1]), out["state"])  # the final policies of all seeds, stacked

        final = m["episode_return"][:, -LAST:].mean(1)  # per seed
        random_return = random_policy_return(config.env_name, key=jax.random.key(config.seed + 1))
        metrics = {
            "mean_return": float(final.mean()),
            "min_seed_return": float(final.min()),
            "seeds_solved": int((final >= config.solved_return).sum()),
            "num_seeds": int(config.num_seeds),
            "random_policy_return": random_return,
            "env_steps_per_s": config.num_seeds * int(env_steps[-1]) / run_s,
            "compile_s": compile_s,
        }
        return run.finish(
            metrics,
            per_seed_return=[round(float(x), 2) for x in final],
            num_params=num_params(jax.tree.map(lambda a: a[0], out["state"])),
        )
