"""Adversarial attacks on classifiers: FGSM, PGD and the seed's targeted SGD attack."""

from jaxdl.attacks.gradient import fgsm, pgd, targeted_sgd

__all__ = ["fgsm", "pgd", "targeted_sgd"]
