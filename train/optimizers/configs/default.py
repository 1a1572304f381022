"""Optimiser trajectories on toy surfaces (seed 001's contour plots), one compiled call.

Run:      python -m train optimizers --workdir=runs/optimizers
Expect:   trajectories.png with SGD, momentum, Nesterov, RMSprop, Adam and AdamW from 3
          starts on 4 surfaces; summary.json with each one's final loss.
Time:     a few seconds on a 2-core CPU.
Scale:    --config.mesh=data=2 runs the one compiled call on every device of the mesh,
          replicated (no batch to split); the other scaling fields are rejected.
"""

import ml_collections

from ..._common import add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.num_steps = 300
    c.learning_rate = 0.01  # SGD's; the adaptive optimisers take 10x (see default_optimizers)
    c.surfaces = ("bowl", "rosenbrock", "himmelblau", "saddle")
    # Scaling: there is no batch and no model, only 2-D points, so a mesh (data or fsdp
    # axes alike) replicates the starts and every device computes all the paths: the
    # same numbers as one device. precision, remat, accum_steps and multi-host runs have
    # nothing to act on and are rejected.
    return add_scale_fields(c)
