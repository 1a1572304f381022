"""Fashion-MNIST classification: data on the device (or streamed from ArrayRecord files
through grain), compiled epochs, a CNN or an MLP."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import ml_collections
from flax import nnx

from jaxdl.data import load_fashion_mnist_split, with_normalized_images
from jaxdl.nn import MLPClassifier
from jaxdl.parallel import compute_dtype
from jaxdl.training import (
    WARMUP_COSINE_OPTIMIZERS,
    TrainState,
    classifier_eval,
    classifier_loss,
    fit,
)

from .. import _common
from ..cli_config import ConfigError

INPUT_SHAPE = (28, 28, 1)


def build_model(config: ml_collections.ConfigDict, *, key: jax.Array) -> nnx.Module:
    """The model named by ``config.model`` (``"cnn"`` or ``"mlp"``)."""
    if config.model == "cnn":
        return _common.cnn_classifier(config, key=key)
    if config.model == "mlp":
        dtype = compute_dtype(config.get("precision", "float32"))
        rngs = nnx.Rngs(params=key)
        return MLPClassifier(
            INPUT_SHAPE, hidden=config.hidden, dropout=config.dropout, dtype=dtype, rngs=rngs
        )
    raise ConfigError(f"config.model is {config.model!r}, expected 'cnn' or 'mlp'.")


def build_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int):
    """AdamW, Adam or SGD with linear warm-up and cosine decay over the whole run."""
    if config.optimizer not in WARMUP_COSINE_OPTIMIZERS:
        raise ConfigError(f"config.optimizer is {config.optimizer!r}, expected adamw, adam or sgd.")
    return _common.warmup_cosine(config, steps_per_epoch, name=config.optimizer)


def train_and_test(config: ml_collections.ConfigDict, mesh: Any) -> tuple[Any, Any]:
    """``(train, test)``: the test split in memory; the training split in memory
    (``config.input="memory"``) or, with ``"grain"``, a :class:`Streamed` source over
    ArrayRecord files in ``config.records_dir`` (written from the IDX files on first
    use), shuffled per epoch from ``config.seed``, each process reading its share of
    every global batch: the training split never sits in memory whole."""
    kind = config.get("input", "memory")
    if kind == "memory":
        return _common.fashion_mnist_splits(config)
    if kind != "grain":
        raise ConfigError(f"config.input is {kind!r}, expected 'memory' or 'grain'.")
    from jaxdl.data.records import fashion_mnist_records
    from jaxdl.data.streaming import Streamed

    data_dir = config.data_dir or None
    folder = fashion_mnist_records("train", config.records_dir or None, data_dir=data_dir)
    train = Streamed(
        folder, config.batch_size, seed=config.seed, mesh=mesh, limit=config.train_examples
    )
    test = load_fashion_mnist_split("test", data_dir=data_dir, limit=config.test_examples)
    return train, test


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains, evaluates every epoch, writes ``workdir`` artefacts, returns the summary."""
    mesh = _common.setup(config)
    with _common.open_run(config, workdir, "fashion_mnist") as run:
        train_data, test_data = train_and_test(config, mesh)
        model_key, state_key, data_key = jax.random.split(jax.random.key(config.seed), 3)
        model = build_model(config, key=model_key)
        if isinstance(train_data, dict):
            steps_per_epoch = int(train_data["label"].shape[0]) // config.batch_size
        else:
            steps_per_epoch = train_data.steps_per_epoch
        tx = build_optimizer(config, steps_per_epoch)
        state = TrainState.create(model, tx, key=state_key, loss_scale=_common.loss_scale(config))
        loss_fn = functools.partial(classifier_loss, label_smoothing=config.label_smoothing)
        result = fit(
            state,
            train_data,
            test_data,
            loss_fn=with_normalized_images(loss_fn),
            eval_fn=with_normalized_images(classifier_eval),
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
