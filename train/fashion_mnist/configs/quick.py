"""Fashion-MNIST, a tiny CNN on a slice of the data: for tests and smoke runs.

Run:      python -m train fashion_mnist --config=quick --workdir=/tmp/fmnist_quick
Expect:   finishes; accuracy is meaningless (a few hundred examples, 2 epochs).
Time:     about 15 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from train.fashion_mnist.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.channels = (4, 8)
    c.hidden = (16,)
    c.num_epochs = 2
    c.batch_size = 32
    c.eval_batch_size = 64
    c.steps_per_dispatch = 4
    c.warmup_epochs = 0
    c.train_examples = 256
    c.test_examples = 100
    c.progress = False
    return c
