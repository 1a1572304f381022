"""Few-shot recipe: an embedding trained on some Fashion-MNIST classes, tested N-way K-shot
on the others (by default trained on classes 0-4, tested on 5-9)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl.data import load_fashion_mnist
from jaxdl.fewshot import (
    center_and_normalise,
    class_table,
    embed,
    few_shot_accuracy,
    shifted_images,
    train_siamese,
)
from jaxdl.fewshot.siamese import LAYERS
from jaxdl.training.logging import MetricsWriter, plot_curves, write_summary
from train.cli_config import ConfigError

FEATURE_TRANSFORMS = ("l2", "cl2n")


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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains on ``config.train_classes`` of the training split; tests episodes drawn from
    the test split's ``config.test_classes`` (and, as a check that training worked, its
    ``train_classes``), and on the training split's images of ``test_classes`` (``val_*``,
    also never trained on: the split to choose evaluation settings on). Also reports raw
    pixels as the baseline to beat."""
    if config.layer not in LAYERS:
        raise ConfigError(f"config.layer is {config.layer!r}, expected one of {', '.join(LAYERS)}.")
    if config.feature_transform not in FEATURE_TRANSFORMS:
        raise ConfigError(
            f"config.feature_transform is {config.feature_transform!r}, expected one of "
            f"{', '.join(FEATURE_TRANSFORMS)}."
        )
    if set(config.train_classes) & set(config.test_classes):
        raise ConfigError("config.train_classes and config.test_classes overlap.")
    if max(config.shots) + config.queries > (config.test_per_class or 1000):
        raise ConfigError(
            f"config.shots {tuple(config.shots)} plus config.queries {config.queries} exceed "
            f"the {config.test_per_class} test images per class."
        )
    workdir_path = Path(workdir)
    workdir_path.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    train_images, train_labels = load_fashion_mnist("train", data_dir=config.data_dir or None)
    test_images, test_labels = load_fashion_mnist("test", data_dir=config.data_dir or None)
    by_class = train_images[class_table(train_labels, config.train_classes)]
    if config.train_per_class:
        by_class = by_class[:, : config.train_per_class]
    result = train_siamese(
        jnp.asarray(by_class),
        key=jax.random.key(config.seed),
        loss=config.loss,
        num_steps=config.num_steps,
        chunk_steps=config.chunk_steps,
        examples_per_class=config.examples_per_class,
        rotations=config.rotations,
        augment=config.augment,
        embed_dim=config.embed_dim,
        channels=tuple(config.channels),
        hidden=tuple(config.hidden),
        norm=config.norm,
        margin=config.margin,
        temperature=config.temperature,
        learning_rate=config.learning_rate,
        progress=config.progress,
    )
    writer = MetricsWriter(workdir_path, tensorboard=False)
    for record in result.history:
        writer.write(record, step=int(record["step"]))
    writer.close()
    plot_curves(result.history, workdir_path / "curves.png", x="step")

    base_mean = None
    if config.feature_transform == "cl2n":
        # The base classes' mean feature, from (at most) 1000 training images per class.
        base = jnp.asarray(by_class[:, :1000].reshape(-1, *by_class.shape[2:]))
        base_mean = embed(result.state, base, layer=config.layer, pool=config.pool).mean(0)
    metrics: dict[str, float] = {"train_seconds": result.seconds}
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
    wall = time.perf_counter() - tic
    write_summary(
        workdir_path, metrics=metrics, config=config.to_dict(), wall_time_s=wall, recipe="fewshot"
    )
    return {"metrics": metrics, "wall_time_s": wall}
