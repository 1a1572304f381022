"""The adder with and without encoder-decoder attention, on longer sums than trained on.

Run:      python -m train sequences --config=attention --workdir=runs/seq_attention
Expect:   seq2seq_accuracy.md: every adder 1.0 on the sums of up to 3 digits it trained
          on; open-loop digit accuracy on 4- / 5-digit sums about 0.55 / 0.47 with
          additive attention, 0.37 / 0.31 without and with dot-product attention
          (measured: train/sequences/README.md); attention.png.
Time:     about 8 minutes on a busy 2-core CPU (three adders of 4000 steps).
Scale:    as the default config.

Operands and answer least significant digit first, the operands' digits interleaved
("351186" for 813 + 615), training lengths mixed from 1 to 3 digits (left padding that
source_mask hides from attention): additive attention then reads the digits each answer
step needs and carries part of that to longer sums; dot-product attention does not.
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
