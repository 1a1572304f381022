"""Activation checkpointing: compiled temporary memory of a deep transformer's train step.

Not a timing. jaxdl side: the step with ``remat="nothing"`` (every block checkpointed,
as one scan); baseline: the same step with ``remat="off"``. Both from
``jax.jit(...).lower(...).compile().memory_analysis().temp_size_in_bytes``, plus the
``dots`` and ``everything`` policies and the loss of each (which must agree).
The PyTorch counterpart, ``torch.utils.checkpoint`` per block, is not measured here:
its memory shows only at run time (``torch.cuda.max_memory_allocated``, GPU only).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from benchmarks import _harness
from jaxdl.nn import DistilBertClassifier, TransformerConfig
from jaxdl.parallel import REMAT_POLICIES, remat_policy
from jaxdl.training import TrainState
from jaxdl.training.step import train_step


def _loss(model, batch, *, train, key):
    logits = model(batch["ids"], train=train, key=key).astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss, {"loss": loss}


def measure(*, n_layers: int, dim: int, seq: int, batch_size: int) -> dict[str, Any]:
    """``{policy: {"temp_mb", "loss"}}`` for every remat policy."""
    rng = np.random.default_rng(0)
    batch = {
        "ids": jnp.asarray(rng.integers(1, 64, (batch_size, seq)), jnp.int32),
        "label": jnp.asarray(rng.integers(0, 2, batch_size), jnp.int32),
    }
    out = {}
    for policy in REMAT_POLICIES:
        cfg = TransformerConfig(
            vocab_size=64,
            dim=dim,
            n_layers=n_layers,
            n_heads=4,
            hidden_dim=4 * dim,
            max_position_embeddings=seq,
            dropout=0.0,
            attention_dropout=0.0,
            classifier_dropout=0.0,
            remat=remat_policy(policy),
        )
        state = TrainState.create(
            DistilBertClassifier(cfg, rngs=nnx.Rngs(0)), optax.sgd(0.1), key=jax.random.key(0)
        )
        compiled = (
            jax.jit(functools.partial(train_step, loss_fn=_loss)).lower(state, batch).compile()
        )
        _, metrics = compiled(state, batch)
        out[policy] = {
            "temp_mb": compiled.memory_analysis().temp_size_in_bytes / 2**20,
            "loss": float(metrics["loss"]),
        }
    return out


def run(*, quick: bool = False, **_: Any) -> dict[str, Any]:
    shape = (
        {"n_layers": 2, "dim": 32, "seq": 16, "batch_size": 4}
        if quick
        else {"n_layers": 12, "dim": 64, "seq": 128, "batch_size": 16}
    )
    result = measure(**shape)
    return _harness.result_record(
        "remat_memory",
        "compiled temporary memory of a train step, remat=nothing vs off",
        result["nothing"]["temp_mb"],
        result["off"]["temp_mb"],
        "MiB",
        {"shape": shape, "policies": result},
        higher_is_better=False,
    )
