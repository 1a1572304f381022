"""The adder with and without encoder-decoder attention, on longer sums than trained on.

Run:      python -m train sequences --config=attention --workdir=runs/seq_attention
Expect:   seq2seq_accuracy.md: every adder about 1.0 on the 3-digit sums it trained on,
          about 0.28 of the digits right on 4-digit and 0.23 on 5-digit sums, with or
          without attention (measured: train/sequences/README.md); attention.png.
Time:     about 15 minutes on a busy 2-core CPU (three adders of 4000 steps).
Scale:    as the default config.

The operands are written least significant digit first, like the answer, so that the
digits answer step k needs sit k tokens after the start and after "+" at any length;
that did not make attention extrapolate (the README says why it does not).
CTC, the recipe's other task, is cut to a token run (its metrics are meaningless here).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.ctc.update(num_steps=100, chunk_steps=100)
    c.seq2seq.update(
        attention=("none", "additive", "dot"),
        reverse_operands=True,
        interleave=True,
        mixed_lengths=True,
    )
    return c
