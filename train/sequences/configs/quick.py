"""Sequences on tiny settings: for tests and smoke runs.

Run:      python -m train sequences --config=quick --workdir=/tmp/seq_quick
Expect:   finishes; the metrics are meaningless (a few dozen steps).
Time:     30-60 seconds on a 2-core CPU (busy machine), mostly compilation (CTC and
          two adders, plain and additive attention).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.progress = False
    c.ctc.update(num_steps=20, chunk_steps=10, batch_size=8, hidden=16, eval_size=32,
                 max_labels=3)  # fmt: skip
    c.seq2seq.update(num_steps=20, chunk_steps=10, batch_size=16, hidden=16, digits=2,
                     eval_size=64, attention=("none", "additive"), longer_digits=(3,),
                     reverse_operands=True, interleave=True, mixed_lengths=True,
                     attention_examples=2)  # fmt: skip
    return c
