"""Fashion-MNIST classification: data on the device, compiled epochs, a CNN or an MLP."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import nnx

from jaxdl import parallel
from jaxdl.data import load_fashion_mnist_split, with_normalized_images
from jaxdl.errors import ConfigError
from jaxdl.nn import NORMS, CNNClassifier, MLPClassifier, conv_impl
from jaxdl.nn.conv import CONV_IMPLS
from jaxdl.parallel import compute_dtype
from jaxdl.training import (
    WARMUP_COSINE_OPTIMIZERS,
    TrainState,
    classifier_eval,
    classifier_loss,
    fit,
    fit_options,
    warmup_cosine_optimizer,
    write_summary,
)

INPUT_SHAPE = (28, 28, 1)


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
            rngs=rngs,
        )
    if config.model == "mlp":
        return MLPClassifier(
            INPUT_SHAPE, hidden=config.hidden, dropout=config.dropout, dtype=dtype, rngs=rngs
        )
    raise ConfigError(f"config.model is {config.model!r}, expected 'cnn' or 'mlp'.")


def build_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int):
    """AdamW, Adam or SGD with linear warm-up and cosine decay over the whole run."""
    if config.optimizer not in WARMUP_COSINE_OPTIMIZERS:
        raise ConfigError(f"config.optimizer is {config.optimizer!r}, expected adamw, adam or sgd.")
    return warmup_cosine_optimizer(
        config.optimizer,
        learning_rate=config.learning_rate,
        num_steps=config.num_epochs * steps_per_epoch,
        warmup_steps=config.warmup_epochs * steps_per_epoch,
        weight_decay=config.weight_decay,
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains, evaluates every epoch, writes ``workdir`` artefacts, returns the summary."""
    tic = time.perf_counter()
    mesh = parallel.setup(config)
    if config.model == "cnn" and config.norm not in NORMS:
        raise ConfigError(f"config.norm is {config.norm!r}, expected one of {', '.join(NORMS)}.")
    if config.conv_impl not in CONV_IMPLS:
        expected = ", ".join(CONV_IMPLS[:-1]) + f" or {CONV_IMPLS[-1]}"
        raise ConfigError(f"config.conv_impl is {config.conv_impl!r}, expected {expected}.")
    data_dir = config.data_dir or None
    train_data = load_fashion_mnist_split("train", data_dir=data_dir, limit=config.train_examples)
    test_data = load_fashion_mnist_split("test", data_dir=data_dir, limit=config.test_examples)
    n_train = int(train_data["label"].shape[0])
    if n_train < config.batch_size:
        raise ConfigError(
            f"config.batch_size is {config.batch_size}, expected at most the {n_train} "
            "training examples."
        )
    model_key, state_key, data_key = jax.random.split(jax.random.key(config.seed), 3)
    model = build_model(config, key=model_key)
    tx = build_optimizer(config, n_train // config.batch_size)
    state = TrainState.create(model, tx, key=state_key, loss_scale=parallel.loss_scale(config))
    # The convolution is chosen when the step is traced, which happens inside fit.
    with conv_impl(config.conv_impl):
        result = _fit(config, workdir, state, train_data, test_data, data_key, mesh)
    metrics = {k: v for k, v in result.metrics.items() if k.startswith(("train_", "test_"))}
    num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(result.state.params))
    if not parallel.is_main_process():
        return {"metrics": metrics, "wall_time_s": time.perf_counter() - tic}
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=time.perf_counter() - tic,
        recipe="fashion_mnist",
        epochs=result.metrics.get("epoch", 0),
        num_params=num_params,
    )
    return {"metrics": metrics, "wall_time_s": time.perf_counter() - tic, "num_params": num_params}


def _fit(config, workdir, state, train_data, test_data, data_key, mesh):
    """:func:`jaxdl.training.fit` with the recipe's loss, metrics and config fields."""
    loss_fn = functools.partial(classifier_loss, label_smoothing=config.label_smoothing)
    return fit(
        state,
        train_data,
        test_data,
        loss_fn=with_normalized_images(loss_fn),
        eval_fn=with_normalized_images(classifier_eval),
        data_key=data_key,
        workdir=workdir,
        mesh=mesh,
        **fit_options(config),
    )
