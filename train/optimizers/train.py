"""Optimiser trajectories on 2-D loss surfaces, every optimiser and start in one jit.

Not model training: each trajectory is an optimiser's path over a closed-form surface
(:func:`jaxdl.surfaces.trajectories`), so there is no engine loop here, only the
:class:`~jaxdl.training.Run` that owns the workdir and the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxdl.surfaces import (
    SURFACES,
    default_optimizers,
    default_starts,
    plot_trajectories,
    trajectories,
)

from .._common import open_run
from ..cli_config import ConfigError


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Runs every optimiser from every start on ``config.surfaces``; writes
    trajectories.png and summary.json (each surface's and optimiser's mean final loss)."""
    unknown = [s for s in config.surfaces if s not in SURFACES]
    if unknown:
        raise ConfigError(f"config.surfaces has {unknown}; the surfaces are {', '.join(SURFACES)}.")
    with open_run(
        config, workdir, "optimizers", tensorboard=False, curves=False, checkpoints=False
    ) as run:
        surfaces = {s: SURFACES[s] for s in config.surfaces}
        paths = trajectories(
            surfaces,
            default_optimizers(config.learning_rate),
            default_starts(),
            num_steps=config.num_steps,
        )
        if run.path("trajectories.png") is not None:
            plot_trajectories(paths, surfaces, run.path("trajectories.png"))
        metrics = {}
        for s, by_opt in paths.items():
            for opt, p in by_opt.items():
                final = np.asarray(jax.vmap(surfaces[s])(p[:, -1]))
                metrics[f"{s}_{opt}_final_loss"] = float(np.nanmean(final))
        return run.finish(metrics)
