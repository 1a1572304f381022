"""makemore, the WaveNet-style hierarchical MLP: context 8, pairs merged level by level.

Run:      python -m train makemore --config=wavenet --workdir=runs/makemore_wavenet
Expect:   test_loss <= 2.03 (see the closing note of the recipe's issue for the measured value).
Time:     a few minutes on a 2-core CPU (200,000 steps of batch 32 with BatchNorm).
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), model="wavenet", block_size=8, n_embd=24, n_hidden=128)
    # The WaveNet model always uses fan-in scaling; init="scaled" records it for clarity.
    return override(c, init="scaled", lr_decay_at=0.75)
