"""name_sex on a tiny budget: for tests and smoke runs.

Run:      python -m train name_sex --config=quick --workdir=/tmp/name_sex_quick
Expect:   finishes; accuracy is meaningless (512 names, 2 epochs, 1 layer).
Time:     about 15 seconds on a 2-core CPU, mostly loading the names and compiling.
"""

import ml_collections

from train.name_sex.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.dim = 16
    c.n_layers = 2
    c.n_heads = 2
    c.hidden_dim = 32
    c.num_epochs = 2
    c.batch_size = 64
    c.warmup_epochs = 0
    c.train_examples = 512
    c.progress = False
    return c
