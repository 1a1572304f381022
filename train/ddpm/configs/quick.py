"""DDPM with a tiny UNet on a slice of the data: for tests and smoke runs.

Run:      python -m train ddpm --config=quick --workdir=/tmp/ddpm_quick
Expect:   finishes; the samples are noise (a few steps of a tiny model).
Time:     about 20 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from ..._common import quick_run
from . import default


def get_config() -> ml_collections.ConfigDict:
    return quick_run(
        default.get_config(),
        channels=(4, 8),
        num_timesteps=50,
        warmup_steps=0,
        grid_rows=1,
        grid_ddim_steps=5,
        batch_size=16,
        eval_batch_size=32,
        train_examples=64,
        test_examples=32,
    )
