"""Small states and data for the training tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxdl.nn import CNNClassifier
from jaxdl.training import TrainState
from tests.conftest import tiny_images


def tiny_data(n: int = 96, seed: int = 0) -> dict[str, jax.Array]:
    images, labels = tiny_images(n, seed)
    return {"image": jnp.asarray(images), "label": jnp.asarray(labels, jnp.int32)}


def to_float(fn):
    """Feeds ``fn`` float NHWC images (the tiny data is uint8 NHW)."""

    def wrapped(model, batch, *args, **kwargs):
        image = batch["image"].astype(jnp.float32)[..., None] / 255.0
        return fn(model, {**batch, "image": image}, *args, **kwargs)

    return wrapped


def tiny_state(seed: int = 0, lr: float = 3e-3) -> TrainState:
    """A CNN with BatchNorm and dropout, so resume must restore stats and keys too."""
    model = CNNClassifier(
        channels=(4,), hidden=(16,), dropout=0.2, rngs=nnx.Rngs(params=jax.random.key(seed))
    )
    return TrainState.create(model, optax.adam(lr), key=jax.random.key(seed + 1))
