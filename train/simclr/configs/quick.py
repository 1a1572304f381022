"""SimCLR on a slice of the data for one epoch: for tests.

Run:      python -m train simclr --config=quick --workdir=/tmp/simclr
Expect:   finishes; the accuracies mean little.
Time:     about 20 seconds on a 2-core CPU.
"""

import ml_collections

from ..._common import quick_run
from . import default


def get_config() -> ml_collections.ConfigDict:
    return quick_run(
        default.get_config(),
        channels=(8, 8, 16),
        projection_hidden=32,
        projection_dim=16,
        warmup_epochs=0,
        probe_steps=50,
        probe_labels_per_class=5,
        gallery_images=0,  # the figure's compilation would double the time
    )
