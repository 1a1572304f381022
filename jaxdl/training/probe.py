"""Linear probes: multinomial logistic regression on frozen features, one compiled run."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl.losses import softmax_cross_entropy


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
    """Full-batch AdamW on standardised features; returns ``(W, b, mean, std)``.

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
    params = (jnp.zeros((x.shape[1], num_classes)), jnp.zeros((num_classes,)))
    tx = optax.adamw(learning_rate, weight_decay=weight_decay)

    def loss(p):
        return softmax_cross_entropy(x @ p[0] + p[1], y).mean()

    def step(carry, _):
        p, s = carry
        g = jax.grad(loss)(p)
        u, s = tx.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), length=num_steps)
    return params[0], params[1], mean, std


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
