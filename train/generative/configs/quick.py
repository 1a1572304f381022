"""Generative models on a slice of the data, 1 epoch: for tests (any --config.model).

Run:      python -m train generative --config=quick --config.model=vqvae --workdir=/tmp/g
Expect:   finishes; the numbers mean little.
Time:     about 15 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from train.generative.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.num_epochs = 1
    c.batch_size = 32
    c.eval_batch_size = 64
    c.steps_per_dispatch = 4
    c.train_examples = 256
    c.test_examples = 100
    c.progress = False
    return c
