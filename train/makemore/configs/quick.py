"""makemore on a tiny budget: for tests and smoke runs.

Run:      python -m train makemore --config=quick --workdir=/tmp/makemore_quick
Expect:   finishes; the losses are far from converged (600 steps).
Time:     about 10 seconds on a 2-core CPU, mostly loading names and compiling.
"""

import ml_collections

from train.makemore.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.n_hidden = 32
    c.num_steps = 600
    c.chunk_steps = 200
    c.lr_find_steps = 50
    c.num_samples = 5
    c.progress = False
    return c
