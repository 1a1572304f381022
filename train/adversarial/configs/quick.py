"""Adversarial attacks on a tiny classifier and a few images: for tests.

Run:      python -m train adversarial --config=quick --workdir=/tmp/adv
Expect:   finishes; the rates mean little.
Time:     about 20 seconds on a 2-core CPU.
"""

import ml_collections

from train.adversarial.configs import default
from train.fashion_mnist.configs import quick as classifier_quick


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.classifier = classifier_quick.get_config()
    c.num_images = 16
    c.pgd_steps = 5
    c.targeted_max_steps = 200
    return c
