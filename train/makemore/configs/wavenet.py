"""makemore, the WaveNet-style hierarchical MLP: context 8, pairs merged level by level.

Run:      python -m train makemore --config=wavenet --workdir=runs/makemore_wavenet
Expect:   test_loss <= 2.03 (see the closing note of the recipe's issue for the measured value).
Time:     a few minutes on a 2-core CPU (200,000 steps of batch 32 with BatchNorm).
"""

import ml_collections

from train.makemore.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.model = "wavenet"
    c.block_size = 8
    c.n_embd = 24
    c.n_hidden = 128
    c.init = "scaled"  # the WaveNet model always uses fan-in scaling; recorded for clarity
    c.lr_decay_at = 0.75
    return c
