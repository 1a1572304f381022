"""CTC: a bidirectional-GRU frame classifier, greedy decoding, the label error rate, and
the tagger's training loss and evaluation.

The CTC note: a model that emits one distribution per frame (over the labels plus a
blank) is trained on unsegmented targets by summing over alignments
(:func:`jaxdl.losses.ctc_loss`); at test time the simplest decoder takes the most likely
class of each frame, merges repeats and drops blanks.

:func:`ctc_tagger_loss` is a loss function for :func:`jaxdl.training.train`, and
:func:`ctc_tagger_metrics` the evaluation, both of a model on a
:class:`~jaxdl.data.synthetic_speech.SpeechBatch` (or anything with its four fields).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank, check_trailing_shape
from jaxdl.losses import ctc_loss


@functools.partial(jax.jit, static_argnames=("blank_id", "pad_id"))
def greedy_decode(
    logits: Float[ArrayLike, " batch time classes"],
    logit_lengths: Int[ArrayLike, " batch"],
    *,
    blank_id: int = 0,
    pad_id: int = -1,
) -> tuple[Int[Array, " batch time"], Int[Array, " batch"]]:
    """Best path decoding: per-frame argmax, merge repeats, drop blanks.

    Returns the decoded labels left-aligned and padded with ``pad_id`` to the frame count,
    and their lengths. Shapes never depend on the data, so it jits and vmaps.

    >>> frames = jnp.array([[1, 1, 0, 1, 2, 2, 0, 0]])  # per-frame winners, 0 = blank
    >>> logits = jax.nn.one_hot(frames, 3)
    >>> labels, n = greedy_decode(logits, jnp.array([7]))
    >>> labels[0, : int(n[0])].tolist()
    [1, 1, 2]
    """
    logits = jnp.asarray(logits)
    check_rank("logits", logits, rank=3)
    best = jnp.argmax(logits, axis=-1)  # (B, T)
    t = logits.shape[1]
    valid = jnp.arange(t)[None, :] < jnp.asarray(logit_lengths)[:, None]
    previous = jnp.pad(best[:, :-1], ((0, 0), (1, 0)), constant_values=-1)
    keep = valid & (best != blank_id) & (best != previous)
    slot = jnp.where(keep, jnp.cumsum(keep, axis=1) - 1, t)  # t: dropped off the end
    rows = jnp.arange(best.shape[0])[:, None]
    out = jnp.full((best.shape[0], t + 1), pad_id, best.dtype).at[rows, slot].set(best)
    return out[:, :t], jnp.sum(keep, axis=1)


def edit_distance(
    a: Int[ArrayLike, " n"], a_length: Int[ArrayLike, ""], b: Int[ArrayLike, " m"],
    b_length: Int[ArrayLike, ""],
) -> Int[Array, ""]:  # fmt: skip
    """Levenshtein distance between ``a[:a_length]`` and ``b[:b_length]`` (jit/vmap-able).

    The dynamic-programming table is filled one row per element of ``a`` in a
    ``lax.scan``; rows past ``a_length`` are skipped and the answer read at ``b_length``.

    >>> edit_distance(jnp.array([1, 2, 3, 0]), 3, jnp.array([1, 3, 0]), 2)
    Array(1, dtype=int32)
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    m = b.shape[0]
    first = jnp.arange(m + 1, dtype=jnp.int32)

    def row(prev, inputs):
        i, ai = inputs

        def cell(left, j):
            sub = prev[j] + (ai != b[j]).astype(jnp.int32)
            value = jnp.minimum(jnp.minimum(prev[j + 1] + 1, left + 1), sub)
            return value, value

        _, rest = jax.lax.scan(cell, i + 1, jnp.arange(m))
        new = jnp.concatenate([(i + 1)[None], rest])
        new = jnp.where(i < a_length, new, prev)
        return new, None

    last, _ = jax.lax.scan(row, first, (jnp.arange(a.shape[0], dtype=jnp.int32), a))
    return last[b_length]


@jax.jit
def label_error_rate(
    decoded: Int[ArrayLike, " batch t"],
    decoded_lengths: Int[ArrayLike, " batch"],
    labels: Int[ArrayLike, " batch n"],
    label_lengths: Int[ArrayLike, " batch"],
) -> Float[Array, ""]:
    """Total edit distance over total reference length (the LER of the CTC paper)."""
    dist = jax.vmap(edit_distance)(labels, label_lengths, decoded, decoded_lengths)
    return jnp.sum(dist) / jnp.maximum(jnp.sum(jnp.asarray(label_lengths)), 1)


class CTCTagger(nnx.Module):
    """Frames -> linear -> bidirectional GRU -> per-frame logits over labels + blank.

    >>> model = CTCTagger(8, 5, hidden=16, rngs=nnx.Rngs(0))
    >>> model(jnp.ones((2, 7, 8)), jnp.array([7, 4])).shape
    (2, 7, 5)
    """

    def __init__(self, features: int, num_classes: int, *, hidden: int = 64, rngs: nnx.Rngs):
        self.features = features
        self.inp = nnx.Linear(features, hidden, rngs=rngs)
        self.rnn = nnx.Bidirectional(
            nnx.RNN(nnx.GRUCell(hidden, hidden, rngs=rngs)),
            nnx.RNN(nnx.GRUCell(hidden, hidden, rngs=rngs), reverse=True, keep_order=True),
        )
        self.out = nnx.Linear(2 * hidden, num_classes, rngs=rngs)

    def __call__(
        self,
        frames: Float[Array, " batch time features"],
        lengths: Int[Array, " batch"],
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, " batch time classes"]:
        del train, key  # no dropout: the signature matches the other modules
        check_trailing_shape("frames", frames, (self.features,))
        check_rank("frames", frames, rank=3)
        h = jax.nn.gelu(self.inp(frames))
        return self.out(self.rnn(h, seq_lengths=lengths))


def ctc_tagger_loss(
    model: Any, batch: Any, *, train: bool, key: jax.Array | None
) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
    """Mean CTC loss per sequence of ``model`` on ``batch``: the training objective.

    Args:
      model: maps ``(frames, frame_lengths, *, train, key)`` to per-frame logits
        ``(batch, time, classes)`` with the blank at class 0 (a :class:`CTCTagger`).
      batch: has ``frames`` ``(batch, time, features)``, ``frame_lengths`` ``(batch,)``,
        ``labels`` ``(batch, max_labels)`` and ``label_lengths`` ``(batch,)``.
      train: training mode (passed to the model).
      key: the step's PRNG key (passed to the model).

    Returns:
      ``(loss, {"loss": loss})``, the loss a scalar.

    Raises:
      ValueError: if the shapes disagree (see :func:`jaxdl.losses.ctc_loss`).
    """
    logits = model(batch.frames, batch.frame_lengths, train=train, key=key)
    loss = ctc_loss(logits, batch.frame_lengths, batch.labels, batch.label_lengths).mean()
    return loss, {"loss": loss}


def ctc_tagger_metrics(model: Any, batch: Any) -> dict[str, Float[Array, ""]]:
    """Greedy-decoded label error rate and mean CTC loss of ``model`` on ``batch``.

    Args:
      model: as for :func:`ctc_tagger_loss`, called in inference mode.
      batch: as for :func:`ctc_tagger_loss`.

    Returns:
      ``{"label_error_rate": ..., "loss": ...}``, scalars.

    Raises:
      ValueError: if the shapes disagree.
    """
    logits = model(batch.frames, batch.frame_lengths)
    decoded, lengths = greedy_decode(logits, batch.frame_lengths)
    ler = label_error_rate(decoded, lengths, batch.labels, batch.label_lengths)
    loss = ctc_loss(logits, batch.frame_lengths, batch.labels, batch.label_lengths).mean()
    return {"label_error_rate": ler, "loss": loss}
