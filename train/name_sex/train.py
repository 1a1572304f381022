"""Name -> mostly boys or mostly girls, with a character-level transformer classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from jaxdl import parallel
from jaxdl.data.names import encode, load_names_with_sex
from jaxdl.losses import softmax_cross_entropy
from jaxdl.metrics import accuracy
from jaxdl.nn import DistilBertClassifier, TransformerConfig
from jaxdl.training import TrainState, fit

from .. import _common

CLS = 27  # after '.' (0, padding) and 'a'..'z' (1..26)
VOCAB = 32  # 28 rounded up to a multiple of 8, so FSDP can split the embedding


def tokenize(names: list[str], max_length: int) -> np.ndarray:
    """``(N, max_length)`` ids: [CLS], the letters, then padding (0)."""
    ids = np.zeros((len(names), max_length), np.int32)
    ids[:, 0] = CLS
    for i, name in enumerate(names):
        letters = encode(name)[: max_length - 1]
        ids[i, 1 : 1 + len(letters)] = letters
    return ids


def make_splits(config: ml_collections.ConfigDict) -> dict[str, dict[str, np.ndarray]]:
    """80/10/10 train/dev/test of the names, shuffled with the config's seed."""
    names, labels = load_names_with_sex(year=config.year)
    ids = tokenize(names, config.max_length)
    order = np.random.default_rng(config.seed).permutation(len(names))
    n1, n2 = int(0.8 * len(order)), int(0.9 * len(order))
    parts = {"train": order[:n1], "dev": order[n1:n2], "test": order[n2:]}
    if config.train_examples:
        parts["train"] = parts["train"][: config.train_examples]
    return {k: {"tokens": ids[v], "label": labels[v]} for k, v in parts.items()}


def build_model(config: ml_collections.ConfigDict, *, key: jax.Array) -> DistilBertClassifier:
    cfg = TransformerConfig(
        vocab_size=VOCAB,
        dim=config.dim,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        hidden_dim=config.hidden_dim,
        max_position_embeddings=config.max_length,
        # Token 0 ('.') pads here too, but this recipe predates the padding_idx convention:
        # keep its row an ordinary trained row so results stay as published.
        pad_token_id=None,
        dropout=config.dropout,
        attention_dropout=config.dropout,
        classifier_dropout=config.dropout,
        num_labels=2,
        dtype=parallel.compute_dtype(config.precision),
        remat=parallel.remat_policy(config.remat),
    )
    return DistilBertClassifier(cfg, rngs=nnx.Rngs(params=key))


def _logits(model, batch, *, train, key):
    mask = (batch["tokens"] > 0).astype(jnp.int32)
    return model(batch["tokens"], mask, train=train, key=key).astype(jnp.float32)


def loss_fn(model, batch, *, train, key):
    logits = _logits(model, batch, train=train, key=key)
    loss = softmax_cross_entropy(logits, batch["label"]).mean()
    return loss, {"loss": loss, "accuracy": accuracy(logits, batch["label"]).mean()}


def eval_fn(model, batch, where):
    logits = _logits(model, batch, train=False, key=None)
    return {
        "loss": softmax_cross_entropy(logits, batch["label"], where=where).sum(),
        "accuracy": accuracy(logits, batch["label"], where=where).sum(),
    }


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains on the train split, evaluates on the test split every epoch."""
    mesh = _common.setup(config)
    with _common.open_run(config, workdir, "name_sex") as run:
        splits = make_splits(config)
        train = splits["train"]
        if jax.process_count() > 1:
            share = parallel.process_share(len(train["label"]))
            train = {k: v[share] for k, v in train.items()}
        steps = len(train["label"]) * jax.process_count() // config.batch_size
        model_key, state_key, data_key = jax.random.split(jax.random.key(config.seed), 3)
        total = config.num_epochs * steps
        warmup = min(config.warmup_epochs * steps, total - 1)
        schedule = optax.warmup_cosine_decay_schedule(
            0.0 if warmup else config.learning_rate, config.learning_rate, warmup, total
        )
        tx = optax.adamw(schedule, weight_decay=config.weight_decay)
        state = TrainState.create(
            build_model(config, key=model_key),
            tx,
            key=state_key,
            loss_scale=_common.loss_scale(config),
        )
        result = fit(
            state,
            {k: jnp.asarray(v) for k, v in train.items()} if mesh is None else train,
            {k: jnp.asarray(v) for k, v in splits["test"].items()},
            loss_fn=loss_fn,
            eval_fn=eval_fn,
            data_key=data_key,
            run=run,
            mesh=mesh,
            **_common.fit_options(config),
        )
        majority = max(splits["test"]["label"].mean(), 1 - splits["test"]["label"].mean())
        metrics = {**result.final, "majority_baseline": float(majority)}
        return run.finish(metrics, epochs=result.metrics.get("epoch", 0))
