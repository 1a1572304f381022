"""makemore's sweep, shrunk for the runs-axis tests: one group of 8 runs (4 learning
rates x 2 seeds), so ``--config.mesh=runs=8`` puts one run on each device.

Run:      python -m train makemore --config=tests/parallel/configs/makemore_sweep8.py
Expect:   finishes; the losses mean little (200 steps).
Time:     about 15 seconds on a 2-core CPU.
"""

import ml_collections

from train.makemore.configs import quick


def get_config() -> ml_collections.ConfigDict:
    c = quick.get_config()
    c.lr_find_steps = 0
    c.num_steps = 200
    c.chunk_steps = 100
    c.num_samples = 2
    c.sweep = ml_collections.ConfigDict({"learning_rate": [0.05, 0.1, 0.2, 0.4], "seed": [0, 1]})
    return c
