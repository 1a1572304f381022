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

from jaxdl import parallel
from jaxdl.surfaces import (
    SURFACES,
    default_optimizers,
    default_starts,
    plot_trajectories,
    trajectories,
)

from .._common import check_scale_support, open_run, setup
from ..cli_config import ConfigError

#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "the surfaces are evaluated in float32",
    "remat": "there are no activations to recompute",
    "accum_steps": "there is no batch to split",
    "processes": "the paths are replicated on one host's devices",
}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Runs every optimiser from every start on ``config.surfaces``; writes
    trajectories.png and summary.json (each surface's and optimiser's mean final loss)."""
    unknown = [s for s in config.surfaces if s not in SURFACES]
    if unknown:
        raise ConfigError(f"config.surfaces has {unknown}; the surfaces are {', '.join(SURFACES)}.")
    check_scale_support(config, UNSUPPORTED)
    mesh = setup(config)
    with open_run(
        config, workdir, "optimizers", tensorboard=False, curves=False, checkpoints=False
    ) as run:
        surfaces = {s: SURFACES[s] for s in config.surfaces}
        starts = default_starts()
        if mesh is not None:  # on every device: the jitted call runs replicated there
            starts = parallel.place(starts, parallel.replicated(mesh))
        paths = trajectories(
            surfaces,
            default_optimizers(config.learning_rate),
            starts,
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
