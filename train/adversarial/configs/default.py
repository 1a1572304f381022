"""Adversarial attacks on the foundation CNN: FGSM, PGD (L-inf) and the seed's targeted SGD.

The classifier is the fashion_mnist recipe's default CNN, trained here for
``classifier.num_epochs`` (or restored from ``classifier_workdir`` if it holds a run of
that recipe with the same config).

Run:      python -m train adversarial --workdir=runs/adversarial
Expect:   measured on 1000 correctly classified test images (classifier 0.913 after 4
          epochs): PGD (eps 0.1, 40 steps) fools 97.8%, FGSM (eps 0.1) 67.3%, and the seed's
          targeted attack reaches a random other class on 100% (median 2 steps, at most 7).
Time:     about 9 minutes on a busy 2-core CPU (562 s measured), most of it training.
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
