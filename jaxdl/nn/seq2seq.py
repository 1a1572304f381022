"""A GRU encoder-decoder, run with teacher forcing or open loop (the teacher-forcing note).

Teacher forcing feeds the decoder the *true* previous token at every step: training is
one parallel pass and each step is learned in isolation. At test time the true tokens are
unknown, so the decoder runs open loop on its *own* previous predictions, and one early
mistake puts it in states it never saw in training (exposure bias). Comparing the two
accuracies of one model shows the gap.

:func:`teacher_forced_loss` is the training loss (for :func:`jaxdl.training.train`) and
:func:`seq2seq_metrics` measures both accuracies on a batch such as
:class:`~jaxdl.data.addition.AdditionBatch`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from jaxdl._checks import check_rank
from jaxdl.losses import softmax_cross_entropy


class Seq2Seq(nnx.Module):
    """Embedding -> GRU encoder; its final state starts a GRU decoder -> logits.

    >>> m = Seq2Seq(vocab_size=13, hidden=16, rngs=nnx.Rngs(0))
    >>> m(jnp.zeros((2, 7), jnp.int32), jnp.zeros((2, 4), jnp.int32)).shape
    (2, 4, 13)
    """

    def __init__(self, vocab_size: int, *, hidden: int = 128, embed: int = 32, rngs: nnx.Rngs):
        self.vocab_size = vocab_size
        self.embed = nnx.Embed(vocab_size, embed, rngs=rngs)
        self.encoder = nnx.RNN(nnx.GRUCell(embed, hidden, rngs=rngs), return_carry=True)
        self.decoder_cell = nnx.GRUCell(embed, hidden, rngs=rngs)
        self.decoder = nnx.RNN(self.decoder_cell)
        self.out = nnx.Linear(hidden, vocab_size, rngs=rngs)

    def encode(self, source: Int[Array, " batch src"]) -> Float[Array, " batch hidden"]:
        check_rank("source", source, rank=2)
        carry, _ = self.encoder(self.embed(source))
        return carry

    def __call__(
        self,
        source: Int[Array, " batch src"],
        target_inputs: Int[Array, " batch tgt"],
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, " batch tgt vocab"]:
        """Teacher forcing: logits for each target step given the true previous tokens."""
        del train, key  # no dropout
        check_rank("target_inputs", target_inputs, rank=2)
        h = self.decoder(self.embed(target_inputs), initial_carry=self.encode(source))
        return self.out(h)

    def generate(
        self, source: Int[Array, " batch src"], *, start: Int[Array, " batch"], length: int
    ) -> Float[Array, " batch length vocab"]:
        """Open loop: each step's input is the previous step's argmax (greedy decoding)."""
        carry = self.encode(source)
        token = start
        logits = []
        for _ in range(length):  # short, static length: unrolled
            carry, h = self.decoder_cell(carry, self.embed(token))
            step = self.out(h)
            logits.append(step)
            token = jnp.argmax(step, axis=-1)
        return jnp.stack(logits, axis=1)


def teacher_forced_loss(
    model: Any, batch: Any, *, train: bool, key: jax.Array | None
) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
    """Mean per-token cross-entropy with the true previous tokens as decoder inputs.

    Args:
      model: maps ``(source, target_inputs, *, train, key)`` to logits ``(batch, tgt,
        vocab)`` (a :class:`Seq2Seq`).
      batch: has ``source`` ``(batch, src)``, ``target_inputs`` ``(batch, tgt)`` (the
        targets shifted right behind a start token) and ``targets`` ``(batch, tgt)``.
      train: training mode (passed to the model).
      key: the step's PRNG key (passed to the model).

    Returns:
      ``(loss, {"loss": loss})``, the loss a scalar.

    Raises:
      ValueError: if the shapes disagree.
    """
    logits = model(batch.source, batch.target_inputs, train=train, key=key)
    loss = softmax_cross_entropy(logits, batch.targets).mean()
    return loss, {"loss": loss}


def _accuracies(logits: jax.Array, targets: jax.Array, prefix: str) -> dict[str, jax.Array]:
    correct = jnp.argmax(logits, -1) == targets
    return {
        f"{prefix}_token_accuracy": jnp.mean(correct),
        f"{prefix}_sequence_accuracy": jnp.mean(jnp.all(correct, axis=1)),
    }


def seq2seq_metrics(model: Seq2Seq, batch: Any) -> dict[str, Float[Array, ""]]:
    """Token and whole-answer accuracy, teacher-forced and open loop, on one batch.

    The open loop starts from each example's first decoder input (the start token) and
    generates as many tokens as ``batch.targets`` has. A whole answer is right in both
    modes alike (every digit right under teacher forcing means open loop reads the same
    inputs); the per-token accuracies differ while the model still makes mistakes.

    Args:
      model: a :class:`Seq2Seq` (anything with its call and ``generate``).
      batch: as for :func:`teacher_forced_loss`.

    Returns:
      ``{"teacher_forced_token_accuracy", "teacher_forced_sequence_accuracy",
      "open_loop_token_accuracy", "open_loop_sequence_accuracy"}``, scalars in [0, 1].

    Raises:
      ValueError: if the shapes disagree.
    """
    forced = model(batch.source, batch.target_inputs)
    start = batch.target_inputs[:, 0]
    free = model.generate(batch.source, start=start, length=batch.targets.shape[1])
    return {**_accuracies(forced, batch.targets, "teacher_forced"),
            **_accuracies(free, batch.targets, "open_loop")}  # fmt: skip
