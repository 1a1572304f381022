"""Functional losses in optax style: arrays in, per-example arrays out."""

from jaxdl.losses._classification import softmax_cross_entropy
from jaxdl.losses._generative import (
    bernoulli_nll,
    epsilon_loss,
    gan_discriminator_loss,
    gan_generator_loss,
    gaussian_kl,
    masked_mse,
    negative_elbo,
    vq_loss,
)
from jaxdl.losses._regression import mean_squared_error
from jaxdl.losses._rl import (
    discounted_returns,
    generalized_advantages,
    ppo_clip_loss,
    value_loss,
)

__all__ = [
    "bernoulli_nll",
    "discounted_returns",
    "epsilon_loss",
    "gan_discriminator_loss",
    "gan_generator_loss",
    "gaussian_kl",
    "generalized_advantages",
    "masked_mse",
    "mean_squared_error",
    "negative_elbo",
    "ppo_clip_loss",
    "softmax_cross_entropy",
    "value_loss",
    "vq_loss",
]
