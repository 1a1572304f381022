"""Optimiser trajectories on toy surfaces (seed 001's contour plots), one compiled call.

Run:      python -m train optimizers --workdir=runs/optimizers
Expect:   trajectories.png with SGD, momentum, Nesterov, RMSprop, Adam and AdamW from 3
          starts on 4 surfaces; summary.json with each one's final loss.
Time:     a few seconds on a 2-core CPU.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.num_steps = 300
    c.learning_rate = 0.01  # SGD's; the adaptive optimisers take 10x (see default_optimizers)
    c.surfaces = ("bowl", "rosenbrock", "himmelblau", "saddle")
    return c
