"""The training objective of a character-level language model: next-character
cross-entropy, its evaluation over a whole split, and the split's device arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.losses import softmax_cross_entropy
from jaxdl.training.evaluation import make_evaluator
from jaxdl.training.sources import Data
from jaxdl.training.state import TrainState
from jaxdl.training.step import Batch, Metrics

SPLITS = ("train", "dev", "test")


def lm_loss(
    model: Any, batch: Batch, *, train: bool, key: jax.Array | None
) -> tuple[jax.Array, Metrics]:
    """Mean next-character cross-entropy of ``model(batch["x"])`` against ``batch["y"]``.

    A loss function for :func:`jaxdl.training.train`.

    Args:
      model: a character-level language model, ``(B, block_size)`` ids to ``(B, vocab)``
        logits.
      batch: ``{"x": (B, block_size) ids, "y": (B,) next-character ids}``.
      train: training mode (BatchNorm statistics of the WaveNet model).
      key: the step's key, or ``None``.

    Returns:
      ``(loss, {"loss": loss})``.
    """
    logits = model(batch["x"], train=train, key=key)
    loss = softmax_cross_entropy(logits, batch["y"]).mean()
    return loss, {"loss": loss}


def seq_lm_loss(
    model: Any, batch: Batch, *, train: bool, key: jax.Array | None
) -> tuple[jax.Array, Metrics]:
    """Mean next-character cross-entropy at every position of the windows (a GPT's loss).

    Position ``t < T - 1`` of window ``x`` predicts ``x[t + 1]`` and the last one ``y``.
    Left padding is skipped: only the window's start token (its last leading dot) and
    what follows count, so a whole-word window is the word's sequence loss.

    Args:
      model: has ``sequence_logits(x) -> (B, T, vocab)`` (:class:`~jaxdl.nn.char_lm.CharGPT`).
      batch: ``{"x": (B, T) ids, "y": (B,) next-character ids}``.
      train: training mode (dropout).
      key: the step's key (dropout), or ``None``.

    Returns:
      ``(loss, {"loss": loss})``.
    """
    x, y = batch["x"], batch["y"]
    logits = model.sequence_logits(x, train=train, key=key)  # (B, T, V)
    targets = jnp.concatenate([x[:, 1:], y[:, None]], axis=1)
    lead = jnp.cumprod(x == 0, axis=1).sum(axis=1, keepdims=True)
    where = jnp.arange(x.shape[1])[None, :] >= lead - 1
    ce = softmax_cross_entropy(logits, targets, where=where)
    loss = ce.sum() / where.sum()
    return loss, {"loss": loss}


def whole_words(data: Data) -> dict[str, jax.Array]:
    """The windows whose target is the end of a word: one per word, holding all of it
    (when the window is longer than the word)."""
    keep = np.asarray(data["y"]) == 0
    return {k: jnp.asarray(np.asarray(v)[keep]) for k, v in data.items()}


def lm_eval(model: Any, batch: Batch, where: jax.Array) -> Metrics:
    """Sum of the cross-entropy over the valid windows (an eval function for
    :func:`jaxdl.training.make_evaluator`)."""
    logits = model(batch["x"], train=False, key=None)
    return {"loss": softmax_cross_entropy(logits, batch["y"], where=where).sum()}


def make_split_evaluator(
    *, batch_size: int = 8192, vmapped: bool = False
) -> Callable[[TrainState, Data], jax.Array]:
    """A jitted ``evaluate(state, data) -> mean loss`` over a whole split, batch by batch.

    Args:
      batch_size: windows per evaluation batch.
      vmapped: ``state`` is a stack of states (leading axis); the result is one mean
        loss per state.

    Returns:
      The evaluator.

    Raises:
      ValueError: ``batch_size`` is not positive.
    """
    evaluate = make_evaluator(lm_eval, batch_size)
    fn = lambda state, data: evaluate(state, data)["loss"]  # noqa: E731
    return jax.jit(jax.vmap(fn, in_axes=(0, None)) if vmapped else fn)


def as_device_data(windows: Any) -> dict[str, jax.Array]:
    """``{"x", "y"}`` device arrays from a :class:`jaxdl.data.names.Windows`."""
    return {"x": jnp.asarray(np.asarray(windows.x)), "y": jnp.asarray(np.asarray(windows.y))}
