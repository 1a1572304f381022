"""Optimiser trajectories on 2-D loss surfaces, every optimiser and start in one jit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxdl.toys.surfaces import (
    SURFACES,
    default_optimizers,
    default_starts,
    plot_trajectories,
    trajectories,
)
from jaxdl.training import write_summary
from train.cli_config import ConfigError


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    tic = time.perf_counter()
    unknown = [s for s in config.surfaces if s not in SURFACES]
    if unknown:
        raise ConfigError(f"config.surfaces has {unknown}; the surfaces are {', '.join(SURFACES)}.")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    surfaces = {s: SURFACES[s] for s in config.surfaces}
    paths = trajectories(
        surfaces,
        default_optimizers(config.learning_rate),
        default_starts(),
        num_steps=config.num_steps,
    )
    plot_trajectories(paths, surfaces, workdir / "trajectories.png")
    metrics = {}
    for s, by_opt in paths.items():
        for opt, p in by_opt.items():
            final = np.asarray(jax.vmap(surfaces[s])(p[:, -1]))
            metrics[f"{s}_{opt}_final_loss"] = float(np.nanmean(final))
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=time.perf_counter() - tic,
        recipe="optimizers",
    )
    return {"metrics": metrics, "wall_time_s": time.perf_counter() - tic}
