"""A siamese CNN embedding trained with a contrastive or triplet loss (the few-shot note).

"Siamese" because every image goes through the same network; the loss only asks that
images of one class land closer together than images of different classes, so the
embedding can be used on classes never seen in training by comparing to a few examples.
Batches are P classes x K images, drawn on the device, and training is chunks of
``lax.scan`` as in the other small recipes.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxdl.losses import batch_hard_triplet_loss, pairwise_contrastive_loss
from jaxdl.nn import CNNClassifier
from jaxdl.training.generated import train_generated
from jaxdl.training.state import TrainState

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST pixel statistics, as the classifier recipe


class SiameseResult(NamedTuple):
    state: TrainState
    history: list[dict[str, float]]
    seconds: float


def _normalise(images: jax.Array) -> jax.Array:
    return ((images.astype(jnp.float32) / 255.0 - MEAN) / STD)[..., None]


def _unit(x: jax.Array) -> jax.Array:
    return x / jnp.sqrt(jnp.maximum(jnp.sum(x * x, -1, keepdims=True), 1e-12))


_LOSSES = {"contrastive": pairwise_contrastive_loss, "triplet": batch_hard_triplet_loss}


def metric_loss_fn(
    model: Any, batch: Any, *, train: bool, key: jax.Array | None, loss: str, margin: float
):
    """Mean metric-learning loss of the unit-norm embeddings of ``batch["image"]``."""
    e = _unit(model(_normalise(batch["image"]), train=train, key=key))
    value = _LOSSES[loss](e, batch["label"], margin=margin).mean()
    return value, {"loss": value}


@functools.partial(jax.jit, static_argnames=("batch_size",))
def embed(state: TrainState, images: jax.Array, *, batch_size: int = 1000) -> jax.Array:
    """Unit-norm embeddings of uint8 ``images`` (N, 28, 28), ``batch_size`` at a time."""
    model = state.model()
    n = images.shape[0]
    pad = (-n) % batch_size
    x = jnp.pad(images, ((0, pad), (0, 0), (0, 0))).reshape(-1, batch_size, *images.shape[1:])
    out = jax.lax.map(lambda b: _unit(model(_normalise(b))), x)
    return out.reshape(-1, out.shape[-1])[:n]


def train_siamese(
    images_by_class: jax.Array,
    *,
    key: jax.Array,
    num_steps: int = 1500,
    chunk_steps: int = 100,
    examples_per_class: int = 16,
    embed_dim: int = 64,
    channels: tuple[int, ...] = (32, 64),
    hidden: tuple[int, ...] = (128,),
    loss: str = "contrastive",
    margin: float = 1.0,
    learning_rate: float = 1e-3,
    progress: bool = True,
    on_chunk: Callable[[dict[str, float]], None] | None = None,
) -> SiameseResult:
    """Trains the embedding on ``images_by_class`` (classes, per_class, 28, 28) uint8.

    Every batch holds ``examples_per_class`` images of each training class. ``loss`` is
    ``"contrastive"`` (all pairs; the default, stable from a random start) or
    ``"triplet"`` (batch-hard, which can collapse every embedding onto one point early on:
    its loss then sits at the margin).
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss={loss!r}, expected one of {sorted(_LOSSES)}.")
    num_classes, per_class = images_by_class.shape[:2]
    k_model, k_data = jax.random.split(key)
    model = CNNClassifier(channels=channels, hidden=hidden, num_classes=embed_dim, dropout=0.0,
                          rngs=nnx.Rngs(params=k_model))  # fmt: skip
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05)
    state = TrainState.create(model, optax.adam(schedule), key=k_data)
    loss_fn = functools.partial(metric_loss_fn, loss=loss, margin=margin)
    labels = jnp.repeat(jnp.arange(num_classes), examples_per_class)

    def batch_fn(key):
        idx = jax.random.randint(
            jax.random.fold_in(key, 1), (num_classes, examples_per_class), 0, per_class
        )
        images = jnp.take_along_axis(images_by_class, idx[:, :, None, None], axis=1)
        return {"image": images.reshape(-1, *images.shape[2:]), "label": labels}

    tic = time.perf_counter()
    state, history = train_generated(
        state,
        batch_fn,
        loss_fn=loss_fn,
        num_steps=num_steps,
        chunk_steps=chunk_steps,
        progress=progress,
        desc="siamese",
        on_chunk=on_chunk,
    )
    return SiameseResult(state, history, time.perf_counter() - tic)
