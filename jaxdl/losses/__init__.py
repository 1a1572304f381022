"""Functional losses in optax style: arrays in, per-example arrays out."""

from jaxdl.losses._classification import softmax_cross_entropy
from jaxdl.losses._regression import mean_squared_error
from jaxdl.losses._sequence import ctc_loss

__all__ = ["ctc_loss", "mean_squared_error", "softmax_cross_entropy"]
