"""Functional losses in optax style: arrays in, per-example arrays out."""

from jaxdl.losses._classification import softmax_cross_entropy
from jaxdl.losses._contrastive import (
    batch_hard_triplet_loss,
    pairwise_contrastive_loss,
    triplet_margin_loss,
)
from jaxdl.losses._regression import mean_squared_error
from jaxdl.losses._sequence import ctc_loss

__all__ = [
    "batch_hard_triplet_loss",
    "ctc_loss",
    "mean_squared_error",
    "pairwise_contrastive_loss",
    "softmax_cross_entropy",
    "triplet_margin_loss",
]
