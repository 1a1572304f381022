"""name_sex on a tiny budget: for tests and smoke runs.

Run:      python -m train name_sex --config=quick --workdir=/tmp/name_sex_quick
Expect:   finishes; accuracy is meaningless (512 names, 2 epochs, 1 layer).
Time:     about 15 seconds on a 2-core CPU, mostly loading the names and compiling.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), dim=16, n_layers=2, n_heads=2, hidden_dim=32)
    return override(
        c, num_epochs=2, batch_size=64, warmup_epochs=0, train_examples=512, progress=False
    )
