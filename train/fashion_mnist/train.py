"""Fashion-MNIST classification: data on the device, compiled epochs, a CNN or an MLP."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from jaxdl.data import load_fashion_mnist
from jaxdl.nn import CNNClassifier, MLPClassifier
from jaxdl.parallel import compute_dtype, process_share
from jaxdl.training import (
    TrainState,
    classifier_eval,
    classifier_loss,
    fit,
)
from train import _common
from train.cli_config import ConfigError

# Training-set statistics of Fashion-MNIST pixels scaled to [0, 1].
MEAN, STD = 0.2860, 0.3530
INPUT_SHAPE = (28, 28, 1)


def normalize(images: jax.Array) -> jax.Array:
    """``uint8 (B, 28, 28)`` to standardised ``float32 (B, 28, 28, 1)``."""
    return ((images.astype(jnp.float32) / 255.0 - MEAN) / STD)[..., None]


def _on_images(fn):
    """Lets a loss or eval function see normalised images; the device keeps uint8."""

    @functools.wraps(fn)
    def wrapped(model, batch, *args, **kwargs):
        return fn(model, {**batch, "image": normalize(batch["image"])}, *args, **kwargs)

    return wrapped


def build_model(config: ml_collections.ConfigDict, *, key: jax.Array) -> nnx.Module:
    """The model named by ``config.model`` (``"cnn"`` or ``"mlp"``)."""
    rngs = nnx.Rngs(params=key)
    dtype = compute_dtype(config.get("precision", "float32"))
    if config.model == "cnn":
        return CNNClassifier(
            INPUT_SHAPE,
            channels=config.channels,
            hidden=config.hidden,
            block_depth=config.block_depth,
            dropout=config.dropout,
            dtype=dtype,
            norm=config.norm,
            norm_groups=config.norm_groups,
            # Recipes that reuse this model from their own configs keep the default.
            conv_impl=config.get("conv_impl", "auto"),
            rngs=rngs,
        )
    if config.model == "mlp":
        return MLPClassifier(
            INPUT_SHAPE, hidden=config.hidden, dropout=config.dropout, dtype=dtype, rngs=rngs
        )
    raise ConfigError(f"config.model is {config.model!r}, expected 'cnn' or 'mlp'.")


def build_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int):
    """AdamW (or Adam) with linear warm-up and cosine decay over the whole run."""
    total = config.num_epochs * steps_per_epoch
    warmup = min(config.warmup_epochs * steps_per_epoch, total - 1)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0 if warmup else config.learning_rate, config.learning_rate, warmup, total
    )
    if config.optimizer == "adamw":
        return optax.adamw(schedule, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return optax.adam(schedule)
    if config.optimizer == "sgd":
        return optax.sgd(schedule, momentum=0.9, nesterov=True)
    raise ConfigError(f"config.optimizer is {config.optimizer!r}, expected adamw, adam or sgd.")


def load_split(config: ml_collections.ConfigDict, split: str) -> dict[str, jax.Array]:
    """One split as device arrays, optionally truncated for quick runs.

    In a multi-process run each process keeps only its share of the training split.
    """
    images, labels = load_fashion_mnist(split, data_dir=config.data_dir or None)
    limit = config.train_examples if split == "train" else config.test_examples
    if limit:
        images, labels = images[:limit], labels[:limit]
    if split == "train" and jax.process_count() > 1:
        share = process_share(len(labels))
        images, labels = images[share], labels[share]
    return {"image": jnp.asarray(images), "label": jnp.asarray(labels, jnp.int32)}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains, evaluates every epoch, writes ``workdir`` artefacts, returns the summary."""
    mesh = _common.setup(config)
    with _common.open_run(config, workdir, "fashion_mnist") as run:
        train_data, test_data = load_split(config, "train"), load_split(config, "test")
        n_train = int(train_data["label"].shape[0])
        if n_train < config.batch_size:
            raise ConfigError(
                f"config.batch_size is {config.batch_size}, expected at most the {n_train} "
                "training examples."
            )
        model_key, state_key, data_key = jax.random.split(jax.random.key(config.seed), 3)
        model = build_model(config, key=model_key)
        tx = build_optimizer(config, n_train // config.batch_size)
        state = TrainState.create(model, tx, key=state_key, loss_scale=_common.loss_scale(config))
        loss_fn = functools.partial(classifier_loss, label_smoothing=config.label_smoothing)
        result = fit(
            state,
            train_data,
            test_data,
            loss_fn=_on_images(loss_fn),
            eval_fn=_on_images(classifier_eval),
            data_key=data_key,
            run=run,
            mesh=mesh,
            **_common.fit_options(config),
        )
        return run.finish(
            result.final,
            epochs=result.metrics.get("epoch", 0),
            num_params=result.state.num_params,
        )
