"""Functional losses in optax style: arrays in, per-example arrays out."""

from jaxdl.losses._classification import softmax_cross_entropy
from jaxdl.losses._contrastive import (
    batch_hard_triplet_loss,
    contrastive_margin_loss,
    ntxent,
    pairwise_contrastive_loss,
    supervised_contrastive,
    triplet_margin_loss,
)
from jaxdl.losses._generative import (
    bernoulli_nll,
    epsilon_loss,
    gan_discriminator_loss,
    gan_generator_loss,
    gaussian_kl,
    gaussian_log_density,
    importance_weighted_bound,
    masked_mse,
    negative_elbo,
    vq_loss,
)
from jaxdl.losses._regression import l2_distance, mean_squared_error
from jaxdl.losses._rl import (
    discounted_returns,
    generalized_advantages,
    ppo_clip_loss,
    value_loss,
)
from jaxdl.losses._sequence import ctc_loss, masked_prediction_loss

__all__ = [
    "batch_hard_triplet_loss",
    "bernoulli_nll",
    "contrastive_margin_loss",
    "ctc_loss",
    "discounted_returns",
    "epsilon_loss",
    "gan_discriminator_loss",
    "gan_generator_loss",
    "gaussian_kl",
    "gaussian_log_density",
    "generalized_advantages",
    "importance_weighted_bound",
    "l2_distance",
    "masked_mse",
    "masked_prediction_loss",
    "mean_squared_error",
    "negative_elbo",
    "ntxent",
    "pairwise_contrastive_loss",
    "ppo_clip_loss",
    "softmax_cross_entropy",
    "supervised_contrastive",
    "triplet_margin_loss",
    "value_loss",
    "vq_loss",
]
