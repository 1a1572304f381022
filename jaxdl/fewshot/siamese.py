"""A CNN embedding for few-shot learning: one network for every image (a "siamese" network),
trained on some classes and used to compare images of classes it never saw.

Four training objectives share the network and the batches (P classes x K images, drawn on
the device, with optional augmentation, trained in chunks of ``lax.scan``):

- ``"cross_entropy"``: a plain classifier over the training classes, here jointly over
  (class, rotation by a multiple of 90 degrees) when ``rotations > 1``: more, and less
  clothing-specific, classes to tell apart (Gidaris et al. 2019; Lee et al. 2020);
- ``"prototypical"``: each batch is an episode, half of every class's images make its
  prototype and the other half are classified by cosine similarity / ``temperature``
  (Snell et al. 2017);
- ``"contrastive"`` (all pairs, Hadsell et al. 2006) and ``"triplet"`` (batch-hard) on the
  unit-norm head output, the metric-learning losses of the few-shot note.

Which features to compare is a separate choice (:func:`embed`'s ``layer``). Trained on
Fashion-MNIST's classes 0-4 and tested 5-way 1-shot on classes 5-9, the flattened last
convolutional block carries over to the new classes far better than the head, which
specialises in the training classes (see ``train/fewshot`` for the measured numbers).
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

from jaxdl.data import augment as aug
from jaxdl.losses import (
    batch_hard_triplet_loss,
    pairwise_contrastive_loss,
    softmax_cross_entropy,
)
from jaxdl.nn import CNNClassifier
from jaxdl.training.generated import train_generated
from jaxdl.training.state import TrainState

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST pixel statistics, as the classifier recipe
LOSSES = ("cross_entropy", "prototypical", "contrastive", "triplet")
LAYERS = ("conv", "hidden", "head")


class SiameseResult(NamedTuple):
    state: TrainState
    history: list[dict[str, float]]
    seconds: float


def _normalise(images: jax.Array) -> jax.Array:
    return ((images.astype(jnp.float32) / 255.0 - MEAN) / STD)[..., None]


def _unit(x: jax.Array) -> jax.Array:
    return x / jnp.sqrt(jnp.maximum(jnp.sum(x * x, -1, keepdims=True), 1e-12))


# Mild geometric jitter: enough to stop the network memorising exact pixel layouts of the
# training classes, mild enough to keep what tells a sandal from a sneaker.
augment_image = aug.compose(
    functools.partial(aug.random_affine, degrees=10.0, translate=0.1, scale=(0.9, 1.1)),
    aug.horizontal_flip,
)


def rotate(images: jax.Array, turns: jax.Array) -> jax.Array:
    """Each of ``images`` (N, H, W, C), H == W, turned by ``turns[i]`` quarter turns."""
    every = jnp.stack([jnp.rot90(images, k, axes=(1, 2)) for k in range(4)])
    return every[turns, jnp.arange(images.shape[0])]


def metric_loss_fn(
    model: Any,
    batch: Any,
    *,
    train: bool,
    key: jax.Array | None,
    loss: str,
    margin: float,
    temperature: float,
    num_classes: int,
):
    """Mean training loss of ``model`` on ``batch`` (images already normalised)."""
    out = model(batch["image"], train=train, key=key)
    labels = batch["label"]
    if loss == "cross_entropy":
        value = softmax_cross_entropy(out, labels).mean()
    elif loss == "prototypical":
        # Batches are class-major (num_classes rows of K images): first half of each row
        # makes the prototype, the second half is classified.
        z = _unit(out).reshape(num_classes, -1, out.shape[-1])
        half = z.shape[1] // 2
        protos = _unit(z[:, :half].mean(1))
        logits = jnp.einsum("cqd,kd->cqk", z[:, half:], protos) / temperature
        targets = jnp.broadcast_to(jnp.arange(num_classes)[:, None], logits.shape[:2])
        value = softmax_cross_entropy(logits, targets).mean()
    else:
        pair_loss = pairwise_contrastive_loss if loss == "contrastive" else batch_hard_triplet_loss
        value = pair_loss(_unit(out), labels, margin=margin).mean()
    return value, {"loss": value}


@functools.partial(jax.jit, static_argnames=("layer", "pool", "batch_size"))
def embed(
    state: TrainState,
    images: jax.Array,
    *,
    layer: str = "conv",
    pool: int = 2,
    batch_size: int = 1000,
) -> jax.Array:
    """Features of uint8 ``images`` (N, 28, 28), ``batch_size`` at a time.

    ``layer``: ``"conv"`` (the last convolutional block's maps, max-pooled over ``pool`` x
    ``pool`` windows at stride 1 and flattened; the default: it carries over to unseen
    classes best), ``"hidden"`` (the input of the head) or ``"head"``. The small max-pool
    lets a part sit a pixel away from where the shot had it (5-way 1-shot on Fashion-MNIST
    5-9: 64.9% without it, 67.0% with ``pool=2``, same network; see ``train/fewshot``).
    :func:`jaxdl.fewshot.few_shot_accuracy` normalises them to unit length.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer is {layer!r}, expected one of {', '.join(LAYERS)}.")
    model = state.model()

    def features(b):
        x = _normalise(b)
        if layer == "head":
            return model(x)
        if layer == "hidden":
            return model.features(x)
        for block in model.blocks:
            x = block(x, train=False)
        if pool > 1:
            window = (1, pool, pool, 1)
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, (1, 1, 1, 1), "VALID")
        return x.reshape(x.shape[0], -1)

    n = images.shape[0]
    pad = (-n) % batch_size
    x = jnp.pad(images, ((0, pad), (0, 0), (0, 0))).reshape(-1, batch_size, *images.shape[1:])
    out = jax.lax.map(features, x)
    return out.reshape(-1, out.shape[-1])[:n]


def train_siamese(
    images_by_class: jax.Array,
    *,
    key: jax.Array,
    loss: str = "cross_entropy",
    num_steps: int = 1500,
    chunk_steps: int = 100,
    examples_per_class: int = 16,
    rotations: int = 4,
    augment: bool = True,
    embed_dim: int = 64,
    channels: tuple[int, ...] = (64, 128),
    hidden: tuple[int, ...] = (128,),
    norm: str = "batch",
    margin: float = 1.0,
    temperature: float = 0.1,
    learning_rate: float = 1e-3,
    progress: bool = True,
    on_chunk: Callable[[dict[str, float]], None] | None = None,
) -> SiameseResult:
    """Trains the embedding on ``images_by_class`` (classes, per_class, 28, 28) uint8.

    Every batch holds ``examples_per_class`` images of each training class, jittered by
    :data:`augment_image` when ``augment``. With ``loss="cross_entropy"`` and
    ``rotations`` > 1, each image is also turned by a random multiple of 90 degrees
    (``rotations`` of them) and the label is (class, turn). ``embed_dim`` is the head's
    width for the metric losses. ``norm`` is the conv blocks' normalisation
    (:mod:`jaxdl.nn.norm`). The batch-hard triplet loss can collapse every embedding onto
    one point from a random start (its loss then sits at ``margin``).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss is {loss!r}, expected one of {', '.join(LOSSES)}.")
    if rotations not in (1, 2, 4):
        raise ValueError(f"rotations is {rotations}, expected 1, 2 or 4.")
    num_classes, per_class = images_by_class.shape[:2]
    turns = rotations if loss == "cross_entropy" else 1
    outputs = num_classes * turns if loss == "cross_entropy" else embed_dim
    k_model, k_data = jax.random.split(key)
    model = CNNClassifier(channels=channels, hidden=hidden, num_classes=outputs, dropout=0.0,
                          norm=norm, rngs=nnx.Rngs(params=k_model))  # fmt: skip
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05)
    state = TrainState.create(model, optax.adam(schedule), key=k_data)
    loss_fn = functools.partial(metric_loss_fn, loss=loss, margin=margin,
                                temperature=temperature, num_classes=num_classes)  # fmt: skip
    labels = jnp.repeat(jnp.arange(num_classes), examples_per_class)

    def batch_fn(key):
        k_idx, k_aug, k_turn = jax.random.split(key, 3)
        idx = jax.random.randint(k_idx, (num_classes, examples_per_class), 0, per_class)
        images = jnp.take_along_axis(images_by_class, idx[:, :, None, None], axis=1)
        x = _normalise(images.reshape(-1, *images.shape[2:]))
        if augment:
            x = aug.batch(augment_image, k_aug, x)
        if turns == 1:
            return {"image": x, "label": labels}
        turn = jax.random.randint(k_turn, labels.shape, 0, turns) * (4 // turns)
        return {"image": rotate(x, turn), "label": labels * turns + turn // (4 // turns)}

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
