"""Few-shot recipe: an embedding trained on some Fashion-MNIST classes, tested N-way K-shot
on the others (by default trained on classes 0-4, tested on 5-9).

The embedding trains through the engine (:func:`jaxdl.training.train`) on class-balanced
batches drawn from each step's key (:class:`~jaxdl.training.Generated` over
:func:`jaxdl.fewshot.class_batch`) inside one :class:`~jaxdl.training.Run`.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from jaxdl import parallel
from jaxdl.data import load_fashion_mnist
from jaxdl.fewshot import (
    LAYERS,
    LOSSES,
    center_and_normalise,
    class_batch,
    class_table,
    embed,
    few_shot_accuracy,
    metric_loss_fn,
    shifted_images,
)
from jaxdl.nn import CNNClassifier
from jaxdl.training import Generated, Run, TrainResult, TrainState, train

from .._common import check_scale_support, open_run, setup
from ..cli_config import ConfigError

FEATURE_TRANSFORMS = ("l2", "cl2n")
#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "the embedding network trains and is evaluated in float32",
    "remat": "the embedding network has no checkpointed blocks",
    "accum_steps": "the metric losses compare the rows of one batch with each other",
    "processes": "the few-shot evaluation gathers the features on one host",
}


def _accuracies(features, table, config, prefix: str) -> dict[str, float]:
    out = {}
    for shots in config.shots:
        acc, half_width = few_shot_accuracy(
            features, table, key=jax.random.key(config.eval_seed), ways=config.ways,
            shots=shots, queries=config.queries, num_episodes=config.num_episodes,
        )  # fmt: skip
        out[f"{prefix}_{config.ways}way_{shots}shot"] = float(acc)
        out[f"{prefix}_{config.ways}way_{shots}shot_ci95"] = float(half_width)
    return out


def _features(state, images, config, base_mean) -> jax.Array:
    """(n, d) features of uint8 ``images``, or (9, n, d) with ``config.support_shift``."""
    views = shifted_images(images, config.support_shift) if config.support_shift else images[None]
    out = jnp.stack([embed(state, v, layer=config.layer, pool=config.pool) for v in views])
    if base_mean is not None:
        out = center_and_normalise(out, base_mean)
    return out if config.support_shift else out[0]


def _train(
    by_class: jax.Array, config: ml_collections.ConfigDict, run: Run, mesh
) -> tuple[TrainResult, float]:
    """Trains the embedding on ``by_class`` (classes, per_class, 28, 28) uint8 with Adam
    (cosine decay); with cross-entropy and ``rotations`` > 1 the classes are (class,
    quarter turn), the metric losses train a head of ``embed_dim``. With a ``mesh`` the
    images are on every device and each batch is split over the mesh's batch axes.

    Returns the result and the seconds of the training itself."""
    num_classes = by_class.shape[0]
    split = None
    if mesh is not None:
        batch_size = num_classes * config.examples_per_class
        parallel.check_batch_size(batch_size, mesh, name="classes x config.examples_per_class")
        by_class = parallel.place(by_class, parallel.replicated(mesh))
        split = parallel.batch_sharding(mesh)
    turns = config.rotations if config.loss == "cross_entropy" else 1
    outputs = num_classes * turns if config.loss == "cross_entropy" else config.embed_dim
    k_model, k_data = jax.random.split(jax.random.key(config.seed))
    model = CNNClassifier(channels=tuple(config.channels), hidden=tuple(config.hidden),
                          num_classes=outputs, dropout=0.0, norm=config.norm,
                          rngs=nnx.Rngs(params=k_model))  # fmt: skip
    schedule = optax.cosine_decay_schedule(config.learning_rate, config.num_steps, alpha=0.05)
    state = TrainState.create(model, optax.adam(schedule), key=k_data)
    batches = functools.partial(
        class_batch,
        examples_per_class=config.examples_per_class,
        augment=config.augment,
        rotations=turns,
    )
    loss_fn = functools.partial(
        metric_loss_fn,
        loss=config.loss,
        margin=config.margin,
        temperature=config.temperature,
        num_classes=num_classes,
    )
    tic = time.perf_counter()
    result = train(
        state,
        Generated(batches, config.chunk_steps, data=by_class, batch_sharding=split),
        loss_fn=loss_fn,
        mesh=mesh,
        num_epochs=-(-config.num_steps // config.chunk_steps),
        num_steps=config.num_steps,
        run=run,
        progress=config.progress,
        desc="siamese",
        examples_per_step=num_classes * config.examples_per_class,
    )
    return result, time.perf_counter() - tic


def _check(config: ml_collections.ConfigDict) -> None:
    """One-sentence errors for settings the run cannot use, before the workdir is touched."""
    for field, allowed in (("loss", LOSSES), ("layer", LAYERS),
                           ("feature_transform", FEATURE_TRANSFORMS)):  # fmt: skip
        if config[field] not in allowed:
            raise ConfigError(
                f"config.{field} is {config[field]!r}, expected one of {', '.join(allowed)}."
            )
    if config.rotations not in (1, 2, 4):
        raise ConfigError(f"config.rotations is {config.rotations}, expected 1, 2 or 4.")
    if set(config.train_classes) & set(config.test_classes):
        raise ConfigError("config.train_classes and config.test_classes overlap.")
    if max(config.shots) + config.queries > (config.test_per_class or 1000):
        raise ConfigError(
            f"config.shots {tuple(config.shots)} plus config.queries {config.queries} exceed "
            f"the {config.test_per_class} test images per class."
        )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains on ``config.train_classes`` of the training split; tests episodes drawn from
    the test split's ``config.test_classes`` (and, as a check that training worked, its
    ``train_classes``), and on the training split's images of ``test_classes`` (``val_*``,
    also never trained on: the split to choose evaluation settings on). Also reports raw
    pixels as the baseline to beat."""
    _check(config)
    check_scale_support(config, UNSUPPORTED)
    mesh = setup(config)
    with open_run(config, workdir, "fewshot", x="step") as run:
        train_images, train_labels = load_fashion_mnist("train", data_dir=config.data_dir or None)
        test_images, test_labels = load_fashion_mnist("test", data_dir=config.data_dir or None)
        by_class = train_images[class_table(train_labels, config.train_classes)]
        if config.train_per_class:
            by_class = by_class[:, : config.train_per_class]
        result, train_seconds = _train(jnp.asarray(by_class), config, run, mesh)
        base_mean = None
        if config.feature_transform == "cl2n":
            # The base classes' mean feature, from (at most) 1000 training images per class.
            base = jnp.asarray(by_class[:, :1000].reshape(-1, *by_class.shape[2:]))
            base_mean = embed(result.state, base, layer=config.layer, pool=config.pool).mean(0)
        metrics: dict[str, float] = {"train_seconds": train_seconds}
        splits = (
            ("test", test_images, test_labels, config.test_classes),
            ("val", train_images, train_labels, config.test_classes),
            ("seen", test_images, test_labels, config.train_classes),
        )
        for name, split_images, split_labels, classes in splits:
            # Val takes as many images per class as test (the same episode statistics).
            rows = class_table(split_labels, classes)[:, : config.test_per_class or 1000]
            images = jnp.asarray(split_images[rows.reshape(-1)])
            table = np.arange(images.shape[0]).reshape(rows.shape)
            features = _features(result.state, images, config, base_mean)
            metrics |= _accuracies(features, table, config, name)
            if name == "test":
                pixels = images.reshape(images.shape[0], -1).astype(jnp.float32)
                metrics |= _accuracies(pixels, table, config, "pixels")
        return run.finish(metrics)
