"""makemore's sweep, shrunk for the reliability tests: two groups of shapes (block sizes
2 and 3), two learning rates each, in chunks that a kill can cut.

Run:      python -m train makemore --config=tests/reliability/configs/makemore_sweep.py
Expect:   finishes; the losses mean little (a few hundred steps).
Time:     about 20 seconds on a 2-core CPU.
"""

import ml_collections

from train.makemore.configs import quick


def get_config() -> ml_collections.ConfigDict:
    c = quick.get_config()
    c.lr_find_steps = 0
    c.num_steps = 300
    c.chunk_steps = 100
    c.sweep = ml_collections.ConfigDict({"learning_rate": [0.05, 0.1], "block_size": [2, 3]})
    return c
