"""Adversarial attacks on a tiny classifier and a few images: for tests.

Run:      python -m train adversarial --config=quick --workdir=/tmp/adv
Expect:   finishes; the rates mean little.
Time:     about 20 seconds on a 2-core CPU.
"""

import ml_collections

from ..._common import quick_run
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    # The fashion_mnist recipe's quick CNN: a slice of the data, 2 epochs.
    quick_run(c.classifier, channels=(4, 8), hidden=(16,), num_epochs=2, warmup_epochs=0)
    c.num_images = 16
    c.pgd_steps = 5
    c.targeted_max_steps = 200
    return c
