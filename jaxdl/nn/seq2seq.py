"""A GRU encoder-decoder, run with teacher forcing or open loop (the teacher-forcing note).

Teacher forcing feeds the decoder the *true* previous token at every step: training is
one parallel pass and each step is learned in isolation. At test time the true tokens are
unknown, so the decoder runs open loop on its *own* previous predictions, and one early
mistake puts it in states it never saw in training (exposure bias). Comparing the two
accuracies of one model shows the gap.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from jaxdl._checks import check_rank


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
