"""The seed's ``train_mlp``: mini-batch SGD on mean squared error, through the engine."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import Array, ArrayLike, Float

from jaxdl.losses import mean_squared_error
from jaxdl.training.engine import train
from jaxdl.training.sources import Permuted
from jaxdl.training.state import TrainState


class _SeedEpochs(Permuted):
    """:class:`Permuted` with the seed's epoch numbering: the engine's epoch ``e`` (from
    1) takes the order of ``fold_in(key, e - 1)``, as the seed's epoch ``e - 1``."""

    def order(self, epoch: int) -> jax.Array:
        return super().order(epoch - 1)


def _mse_loss(model: Any, batch: dict[str, jax.Array], *, train: bool, key: jax.Array | None):
    del train, key  # the seed calls the model plainly
    loss = mean_squared_error(model(batch["x"]), batch["y"]).mean()
    return loss, {"loss": loss}


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

    Each epoch draws a permutation from ``fold_in(key, epoch)`` (epochs from 0), takes
    ``n // batch_size`` batches (the remainder is skipped, as in the seed) and records the
    average batch loss. Training goes through :func:`jaxdl.training.train` (one compiled
    ``lax.scan`` per epoch over a device-resident :class:`Permuted` source).
    ``y`` of shape ``(n,)`` is treated as ``(n, 1)`` like the seed's ``reshape(-1, 1)``.

    Args:
      model: an NNX module mapping ``(B, features)`` to ``(B, targets)``; not modified.
      x: inputs, shape ``(n, features)``.
      y: targets, shape ``(n,)`` or ``(n, targets)``.
      key: PRNG key for the per-epoch permutations.
      num_epochs: passes over the data.
      batch_size: examples per SGD step.
      learning_rate: the SGD step size.

    Returns:
      ``(trained_model, loss_log)`` with ``loss_log`` of shape ``(num_epochs,)``.

    Raises:
      ValueError: if ``x`` is not 2-d, ``x`` and ``y`` disagree in length,
        ``num_epochs < 1`` or ``batch_size > n``.
      NonFiniteLossError: if the loss or the parameters become NaN or infinite.
    """
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2:
        raise ValueError(f"x has shape {x.shape}, expected (n, features).")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y has {y.shape[0]} rows, expected x's {x.shape[0]}.")
    if num_epochs < 1:
        raise ValueError(f"num_epochs is {num_epochs}, expected a positive integer.")
    if not 0 < batch_size <= x.shape[0]:
        raise ValueError(f"batch_size is {batch_size}, expected 1 <= batch_size <= {x.shape[0]}.")
    # A copy: the engine donates the state, and the caller's model and key stay usable.
    state = jax.tree.map(jnp.copy, TrainState.create(model, optax.sgd(learning_rate), key=key))
    result = train(
        state,
        _SeedEpochs({"x": x, "y": y}, batch_size, key),
        loss_fn=_mse_loss,
        num_epochs=num_epochs,
        keep_step_metrics=True,
        progress=False,
        epoch_lines=False,
    )
    # The epoch means in float32, as the seed's loss log (the history's are float64).
    losses = jnp.asarray(result.step_metrics["loss"]).reshape(num_epochs, -1).mean(axis=1)
    return result.state.model(), losses
