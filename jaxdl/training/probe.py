"""Linear probes: multinomial logistic regression on frozen features, one compiled run."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl.losses import softmax_cross_entropy
from jaxdl.training.engine import make_chunk
from jaxdl.training.sources import FullBatch
from jaxdl.training.state import TrainState


@partial(jax.jit, static_argnames=("num_classes", "num_steps"))
def fit_linear_probe(
    features: Float[ArrayLike, "n dim"],
    labels: Int[ArrayLike, " n"],
    *,
    num_classes: int,
    num_steps: int = 500,
    learning_rate: float = 1e-2,
    weight_decay: float = 1e-4,
) -> tuple[Array, Array, Array, Array]:
    """Full-batch AdamW on standardised features, ``num_steps`` engine steps in one
    compiled chunk; returns ``(W, b, mean, std)``.

    Standardising with the training features' statistics (returned, to apply to test
    features) makes one learning rate work for pixels and for learned representations.
    """
    x = jnp.asarray(features, jnp.float32)
    y = jnp.asarray(labels)
    if x.ndim != 2 or y.shape != x.shape[:1]:
        raise ValueError(
            f"features has shape {x.shape} and labels {y.shape}; expected (n, dim) and (n,)."
        )
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    zeros = nnx.initializers.zeros
    probe = nnx.Linear(
        x.shape[1], num_classes, kernel_init=zeros, bias_init=zeros, rngs=nnx.Rngs(0)
    )
    tx = optax.adamw(learning_rate, weight_decay=weight_decay)
    state = TrainState.create(probe, tx, key=jax.random.key(0))  # no randomness is drawn
    source = FullBatch({"x": x, "y": y}, num_steps)
    state = make_chunk(_probe_loss, source)(state, source.data, None, num_steps)[0]
    return state.params["kernel"][...], state.params["bias"][...], mean, std


def _probe_loss(model, batch, *, train, key):
    del train, key
    loss = softmax_cross_entropy(model(batch["x"]), batch["y"]).mean()
    return loss, {"loss": loss}


def probe_accuracy(probe, features: ArrayLike, labels: ArrayLike) -> float:
    """Test accuracy of a probe from :func:`fit_linear_probe`."""
    w, b, mean, std = probe
    logits = ((jnp.asarray(features, jnp.float32) - mean) / std) @ w + b
    return float(jnp.mean(jnp.argmax(logits, -1) == jnp.asarray(labels)))


def per_class_subset(labels, per_class: int, *, key: jax.Array) -> Array:
    """Indices of ``per_class`` random examples of every class (fewer if a class is small)."""
    labels = jnp.asarray(labels)
    order = jax.random.permutation(key, labels.shape[0])
    picked = []
    for c in range(int(labels.max()) + 1):
        members = order[labels[order] == c]
        picked.append(members[:per_class])
    return jnp.sort(jnp.concatenate(picked))
