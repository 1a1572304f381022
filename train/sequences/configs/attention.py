"""The adder with and without encoder-decoder attention, on longer sums than trained on.

Run:      python -m train sequences --config=attention --workdir=runs/seq_attention
Expect:   seq2seq_accuracy.md: every adder about 1.0 on the 3-digit sums it trained on; on
          4- and 5-digit sums the attention models keep a higher open-loop digit accuracy
          than the plain one (measured: train/sequences/README.md); attention.png.
Time:     about 25 minutes on a busy 2-core CPU (three adders of 4000 steps).
Scale:    as the default config.

The operands are written least significant digit first, like the answer, so that the
digits answer step k needs are k tokens after the start and after "+" at any length:
attention can find them there, the plain model has to squeeze them through one state.
CTC, the recipe's other task, is cut to a token run (its metrics are meaningless here).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.ctc.update(num_steps=100, chunk_steps=100)
    c.seq2seq.update(attention=("none", "additive", "dot"), reverse_operands=True)
    return c
