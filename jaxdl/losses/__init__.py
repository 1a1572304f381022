"""Functional losses in optax style: arrays in, per-example arrays out."""

from jaxdl.losses._classification import softmax_cross_entropy
from jaxdl.losses._regression import mean_squared_error
from jaxdl.losses._rl import (
    discounted_returns,
    generalized_advantages,
    ppo_clip_loss,
    value_loss,
)

__all__ = [
    "discounted_returns",
    "generalized_advantages",
    "mean_squared_error",
    "ppo_clip_loss",
    "softmax_cross_entropy",
    "value_loss",
]
