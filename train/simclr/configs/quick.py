"""SimCLR on a slice of the data for one epoch: for tests.

Run:      python -m train simclr --config=quick --workdir=/tmp/simclr
Expect:   finishes; the accuracies mean little.
Time:     about 20 seconds on a 2-core CPU.
"""

import ml_collections

from train.simclr.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.channels = (8, 8, 16)
    c.projection_hidden = 32
    c.projection_dim = 16
    c.warmup_epochs = 0
    c.num_epochs = 1
    c.batch_size = 32
    c.steps_per_dispatch = 4
    c.probe_steps = 50
    c.probe_labels_per_class = 5
    c.gallery_images = 0  # the figure's compilation would double the time
    c.train_examples = 256
    c.test_examples = 100
    c.progress = False
    return c
