"""A CNN embedding for few-shot learning: one network for every image (a "siamese" network),
trained on some classes and used to compare images of classes it never saw.

Four training objectives (:func:`metric_loss_fn`) share the network and the batches
(:func:`class_batch`: P classes x K images drawn on the device from a step's key, with
optional augmentation; train them with :func:`jaxdl.training.train` and a
:class:`~jaxdl.training.Generated` source, as ``train/fewshot`` does):

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
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, UInt8

from jaxdl.data import augment as aug
from jaxdl.losses import (
    batch_hard_triplet_loss,
    pairwise_contrastive_loss,
    softmax_cross_entropy,
)
from jaxdl.training.state import TrainState

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST pixel statistics, as the classifier recipe
LOSSES = ("cross_entropy", "prototypical", "contrastive", "triplet")
LAYERS = ("conv", "hidden", "head")


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


def rotate(images: Float[Array, "n h w c"], turns: Int[Array, " n"]) -> Float[Array, "n h w c"]:
    """Each of ``images`` turned by its own number of quarter turns.

    Args:
      images: ``(n, h, w, c)`` with ``h == w``.
      turns: ``(n,)`` quarter turns (0-3, counter-clockwise) per image.

    Returns:
      The turned images, ``(n, h, w, c)``.
    """
    every = jnp.stack([jnp.rot90(images, k, axes=(1, 2)) for k in range(4)])
    return every[turns, jnp.arange(images.shape[0])]


def class_batch(
    key: jax.Array,
    images_by_class: UInt8[Array, "classes per_class 28 28"],
    *,
    examples_per_class: int,
    augment: bool = True,
    rotations: int = 1,
) -> dict[str, jax.Array]:
    """A class-balanced training batch drawn from ``key``, for :func:`metric_loss_fn`.

    Each class gives ``examples_per_class`` images drawn with replacement (rows are
    class-major: all of class 0 first), normalised and jittered by :data:`augment_image`
    when ``augment``. With ``rotations`` > 1 each image is also turned by a random
    multiple of ``360 / rotations`` degrees and labelled (class, turn): ``class *
    rotations + turn``, so the classifier tells ``classes * rotations`` classes apart.

    Args:
      key: the step's PRNG key (:meth:`~jaxdl.training.TrainState.step_key`).
      images_by_class: uint8 images, ``(classes, per_class, 28, 28)``.
      examples_per_class: images per class in the batch.
      augment: apply the geometric jitter.
      rotations: 1 (labels are the classes), 2 or 4.

    Returns:
      ``{"image": (classes * examples_per_class, 28, 28, 1) float32, "label": (classes *
      examples_per_class,) int}``.

    Raises:
      ValueError: if ``rotations`` is not 1, 2 or 4, or ``images_by_class`` is not 4-d.
    """
    if rotations not in (1, 2, 4):
        raise ValueError(f"rotations is {rotations}, expected 1, 2 or 4.")
    if images_by_class.ndim != 4:
        raise ValueError(
            f"images_by_class has shape {images_by_class.shape}, expected "
            "(classes, per_class, height, width)."
        )
    num_classes, per_class = images_by_class.shape[:2]
    labels = jnp.repeat(jnp.arange(num_classes), examples_per_class)
    k_idx, k_aug, k_turn = jax.random.split(key, 3)
    idx = jax.random.randint(k_idx, (num_classes, examples_per_class), 0, per_class)
    images = jnp.take_along_axis(images_by_class, idx[:, :, None, None], axis=1)
    x = _normalise(images.reshape(-1, *images.shape[2:]))
    if augment:
        x = aug.batch(augment_image, k_aug, x)
    if rotations == 1:
        return {"image": x, "label": labels}
    turn = jax.random.randint(k_turn, labels.shape, 0, rotations) * (4 // rotations)
    return {"image": rotate(x, turn), "label": labels * rotations + turn // (4 // rotations)}


def metric_loss_fn(
    model: Any,
    batch: dict[str, jax.Array],
    *,
    train: bool,
    key: jax.Array | None,
    loss: str,
    margin: float,
    temperature: float,
    num_classes: int,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean training loss of ``model`` on a :func:`class_batch` (images normalised).

    Args:
      model: maps ``(images, *, train, key)`` to logits (``"cross_entropy"``) or
        embeddings (the other losses), ``(batch, d)``.
      batch: ``{"image", "label"}``, class-major for ``"prototypical"``.
      train: training mode (passed to the model).
      key: the step's PRNG key (passed to the model).
      loss: one of :data:`LOSSES` (see the module docstring).
      margin: the margin of the contrastive and triplet losses.
      temperature: the prototypical loss's cosine temperature.
      num_classes: classes in the batch (rows of the prototypical episode).

    Returns:
      ``(loss, {"loss": loss})``, the loss a scalar.

    Raises:
      ValueError: if ``loss`` is not one of :data:`LOSSES`.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss is {loss!r}, expected one of {', '.join(LOSSES)}.")
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
    """Features of uint8 ``images`` under the trained network, ``batch_size`` at a time.

    The small max-pool of the ``"conv"`` features lets a part sit a pixel away from where
    the shot had it (5-way 1-shot on Fashion-MNIST 5-9: 64.9% without it, 67.0% with
    ``pool=2``, same network; see ``train/fewshot``).
    :func:`jaxdl.fewshot.few_shot_accuracy` normalises them to unit length.

    Args:
      state: the trained state of a :class:`~jaxdl.nn.CNNClassifier`.
      images: uint8 images, ``(n, 28, 28)``.
      layer: ``"conv"`` (the last convolutional block's maps, max-pooled over ``pool`` x
        ``pool`` windows at stride 1 and flattened; the default: it carries over to
        unseen classes best), ``"hidden"`` (the input of the head) or ``"head"``.
      pool: the max-pool window of ``"conv"``; 1 is none.
      batch_size: images per forward pass.

    Returns:
      ``(n, d)`` float32 features.

    Raises:
      ValueError: if ``layer`` is not one of :data:`LAYERS`.
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
