"""The seed's ``train_mlp``: mini-batch SGD on mean squared error, as one compiled run."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import Array, ArrayLike, Float

from jaxdl.losses import mean_squared_error


def train_mlp(
    model: nnx.Module,
    x: Float[ArrayLike, "n features"],
    y: Float[ArrayLike, " n *targets"],
    *,
    key: jax.Array,
    num_epochs: int = 3,
    batch_size: int = 10,
    learning_rate: float = 1e-3,
) -> tuple[Any, Float[Array, " num_epochs"]]:
    """Fits ``model`` to ``(x, y)`` with plain SGD on the mean squared error.

    Each epoch draws a permutation from ``fold_in(key, epoch)``, takes
    ``n // batch_size`` batches (the remainder is skipped, as in the seed) and records the
    average batch loss. The whole run is one ``lax.scan`` over epochs inside one ``jit``.
    ``y`` of shape ``(n,)`` is treated as ``(n, 1)`` like the seed's ``reshape(-1, 1)``.

    Args:
      model: an NNX module mapping ``(B, features)`` to ``(B, targets)``; not modified.
      x: inputs, shape ``(n, features)``.
      y: targets, shape ``(n,)`` or ``(n, targets)``.
      key: PRNG key for the per-epoch permutations.
      num_epochs, batch_size, learning_rate: as in the seed.

    Returns:
      ``(trained_model, loss_log)`` with ``loss_log`` of shape ``(num_epochs,)``.

    Raises:
      ValueError: if ``x`` and ``y`` disagree in length or ``batch_size > n``.
    """
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2:
        raise ValueError(f"x has shape {x.shape}, expected (n, features).")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y has {y.shape[0]} rows, expected x's {x.shape[0]}.")
    if not 0 < batch_size <= x.shape[0]:
        raise ValueError(f"batch_size is {batch_size}, expected 1 <= batch_size <= {x.shape[0]}.")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    params, losses = _run(graphdef, params, rest, x, y, key, num_epochs, batch_size, learning_rate)
    return nnx.merge(graphdef, params, rest), losses


@jax.jit(static_argnums=(0, 6, 7))
def _run(graphdef, params, rest, x, y, key, num_epochs, batch_size, learning_rate):
    tx = optax.sgd(learning_rate)
    steps = x.shape[0] // batch_size

    def loss_fn(p, xb, yb):
        return mean_squared_error(nnx.merge(graphdef, p, rest, copy=True)(xb), yb).mean()

    def step(carry, idx):
        p, opt = carry
        loss, grads = jax.value_and_grad(loss_fn)(p, x[idx], y[idx])
        updates, opt = tx.update(grads, opt, p)
        return (optax.apply_updates(p, updates), opt), loss

    def epoch(carry, e):
        order = jax.random.permutation(jax.random.fold_in(key, e), x.shape[0])
        order = order[: steps * batch_size].reshape(steps, batch_size)
        carry, losses = jax.lax.scan(step, carry, order)
        return carry, losses.mean()

    (params, _), losses = jax.lax.scan(epoch, (params, tx.init(params)), jnp.arange(num_epochs))
    return params, losses
