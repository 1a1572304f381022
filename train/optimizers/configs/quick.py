"""Optimiser trajectories, 20 steps on two surfaces: for tests.

Run:      python -m train optimizers --config=quick --workdir=/tmp/opt
Expect:   finishes; a small trajectories.png.
Time:     a few seconds on a 2-core CPU.
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.num_steps = 20
    c.surfaces = ("bowl", "saddle")
    return c
