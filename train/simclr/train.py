"""SimCLR (seed 001, "SimCLR"; seed 003, representation learning) with linear probes."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from jaxdl.data import (
    CLASS_NAMES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    normalize_fashion_mnist,
)
from jaxdl.data.augment import batch, gallery, simclr_augment, two_views
from jaxdl.losses import ntxent
from jaxdl.nn.simclr import READOUTS, SimCLRNet, representations
from jaxdl.training import Run, TrainState, fit
from jaxdl.training.probe import fit_linear_probe, per_class_subset, probe_accuracy
from jaxdl.viz import save_augmentations, scatter_classes

from .. import _common
from ..cli_config import ConfigError

#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "accum_steps": "micro-batches would give NT-Xent fewer negatives, another loss",
    "precision": "the encoder trains in float32",
    "remat": "the encoder has no checkpointed blocks",
    "processes": "the probes gather the features on one host",
}


def build_encoder(config: ml_collections.ConfigDict, key: jax.Array) -> SimCLRNet:
    return SimCLRNet(
        config.channels,
        block_depth=config.block_depth,
        projection_hidden=config.projection_hidden,
        projection_dim=config.projection_dim,
        rngs=nnx.Rngs(params=key),
    )


def build_augment(config: ml_collections.ConfigDict):
    """SimCLR's crop, flip and brightness/contrast jitter (:func:`simclr_augment`)."""
    return simclr_augment(
        crop_scale=tuple(config.crop_scale),
        crop_method=config.crop_method,
        flip=config.flip,
        jitter=config.jitter,
        jitter_p=config.jitter_p,
    )


def simclr_loss(model, batch_, *, train, key, augment, temperature):
    x = batch_["image"].astype(jnp.float32)[..., None] / 255.0
    v1, v2 = batch(two_views(augment), key, x)
    # One forward pass over both views, so BatchNorm sees them together.
    z = model((jnp.concatenate([v1, v2]) - FASHION_MNIST_MEAN) / FASHION_MNIST_STD, train=train)
    z1, z2 = jnp.split(z, 2)
    loss = ntxent(z1, z2, temperature=temperature).mean()
    return loss, {"loss": loss}


def features(model: SimCLRNet, images: jax.Array, readout: str = "avg") -> jax.Array:
    """Probe representations of uint8 ``images`` ``(N, 28, 28)``, the first ``N - N % 100``."""
    n = images.shape[0] - images.shape[0] % 100
    return representations(model, normalize_fashion_mnist(images[:n]), readout=readout)


def probes(name, train_f, train_y, test_f, test_y, subset, config) -> dict[str, float]:
    full = fit_linear_probe(train_f, train_y, num_classes=10, num_steps=config.probe_steps)
    few = fit_linear_probe(
        train_f[subset], train_y[subset], num_classes=10, num_steps=config.probe_steps
    )
    return {
        f"{name}_probe_all_labels": probe_accuracy(full, test_f, test_y),
        f"{name}_probe_{config.probe_labels_per_class}_per_class": probe_accuracy(
            few, test_f, test_y
        ),
    }


def augmentation_gallery(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """Every augmentation of :mod:`jaxdl.data.augment` as used here, by column title."""
    return gallery(
        crop_scale=tuple(config.crop_scale),
        crop_method=config.crop_method,
        jitter=config.jitter,
        mean=FASHION_MNIST_MEAN,
        std=FASHION_MNIST_STD,
        pipeline=build_augment(config),
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains the encoder, probes it (and a random one, and the pixels), writes plots."""
    if config.readout not in READOUTS:  # before a long training run, not after it
        raise ConfigError(f"config.readout is {config.readout!r}, expected one of {READOUTS}.")
    _common.check_scale_support(config, UNSUPPORTED)
    mesh = _common.setup(config)
    with _common.open_run(config, workdir, "simclr") as run:
        return _train_and_probe(config, run, mesh)


def _train_and_probe(config: ml_collections.ConfigDict, run: Run, mesh=None) -> dict[str, Any]:
    train, test = _common.fashion_mnist_splits(config)
    k_model, k_state, k_data, k_random, k_subset = jax.random.split(jax.random.key(config.seed), 5)
    augment = build_augment(config)
    steps_per_epoch = len(train["label"]) // config.batch_size
    tx = _common.warmup_cosine(config, steps_per_epoch)
    state = TrainState.create(build_encoder(config, k_model), tx, key=k_state)
    result = fit(
        state,
        train,
        None,
        loss_fn=partial(simclr_loss, augment=augment, temperature=config.temperature),
        data_key=k_data,
        run=run,
        mesh=mesh,
        **_common.fit_options(config),
    )
    n_train = len(train["label"]) - len(train["label"]) % 100
    n_test = len(test["label"]) - len(test["label"]) % 100
    train_y, test_y = train["label"][:n_train], test["label"][:n_test]
    subset = per_class_subset(train_y, config.probe_labels_per_class, key=k_subset)
    encoder = result.state.model()
    metrics: dict[str, Any] = {"train_loss": result.metrics.get("train_loss")}
    read = partial(features, readout=config.readout)
    f_train, f_test = read(encoder, train["image"]), read(encoder, test["image"])
    metrics |= probes("simclr", f_train, train_y, f_test, test_y, subset, config)
    rand = build_encoder(config, k_random)
    metrics |= probes(
        "random_encoder",
        read(rand, train["image"]),
        train_y,
        read(rand, test["image"]),
        test_y,
        subset,
        config,
    )
    pix_train = train["image"][:n_train].reshape(n_train, -1) / 255.0
    pix_test = test["image"][:n_test].reshape(n_test, -1) / 255.0
    metrics |= probes("pixels", pix_train, train_y, pix_test, test_y, subset, config)
    if run.path("representation.png") is None:
        return run.finish(metrics)
    scatter_classes(
        np.asarray(f_test),
        np.asarray(test_y),
        CLASS_NAMES,
        run.path("representation.png"),
        title="SimCLR representation of the test set (PCA)",
    )
    if config.gallery_images:
        images = test["image"][: config.gallery_images].astype(jnp.float32)[..., None] / 255.0
        save_augmentations(
            images,
            augmentation_gallery(config),
            run.path("augmentations.png"),
            key=jax.random.fold_in(jax.random.key(config.seed), 1),
            title="jaxdl.data.augment on Fashion-MNIST test images (one key per image)",
        )
    return run.finish(metrics)
