"""Adversarial attacks on the foundation CNN: FGSM, PGD (L-inf) and the seed's targeted SGD.

The classifier is the fashion_mnist recipe's default CNN, trained here for
``classifier.num_epochs`` (or restored from ``classifier_workdir`` if it holds a run of
that recipe with the same config).

Run:      python -m train adversarial --workdir=runs/adversarial
Expect:   PGD (eps 0.1) success close to 100%, the targeted attack reaching its target on
          nearly every image, FGSM somewhat lower; see summary.json and attacks.png.
Time:     a few minutes on a 2-core CPU (most of it training the classifier).
"""

import ml_collections

from train.fashion_mnist.configs import default as classifier_default


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.classifier = classifier_default.get_config()
    c.classifier.num_epochs = 4
    c.classifier.progress = False
    c.classifier_workdir = ""  # "": train into WORKDIR/classifier
    c.num_images = 1000  # test images attacked (the first ones the classifier gets right)
    c.eps = 0.1  # L-inf budget of FGSM and PGD, in [0, 1] pixel units
    c.pgd_steps = 40
    c.pgd_step_size = 0.01
    c.targeted_lr = 1.0  # the seed's SGD learning rate on the input
    c.targeted_max_steps = 50_000  # the seed's limit
    c.seed = 0
    return c
