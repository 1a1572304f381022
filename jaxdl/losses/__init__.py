"""Functional losses in optax style: arrays in, per-example arrays out."""

from jaxdl.losses._classification import softmax_cross_entropy
from jaxdl.losses._regression import l2_distance, mean_squared_error

__all__ = ["l2_distance", "mean_squared_error", "softmax_cross_entropy"]
