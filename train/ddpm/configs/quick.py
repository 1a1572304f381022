"""DDPM with a tiny UNet on a slice of the data: for tests and smoke runs.

Run:      python -m train ddpm --config=quick --workdir=/tmp/ddpm_quick
Expect:   finishes; the samples are noise (a few steps of a tiny model).
Time:     about 20 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from train.ddpm.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.channels = (4, 8)
    c.num_timesteps = 50
    c.num_epochs = 1
    c.batch_size = 16
    c.eval_batch_size = 32
    c.steps_per_dispatch = 4
    c.warmup_steps = 0
    c.grid_rows = 1
    c.grid_ddim_steps = 5
    c.train_examples = 64
    c.test_examples = 32
    c.progress = False
    return c
