"""makemore, a character GPT (pre-LN, GPT-2 layout) on the same names split and evaluation.

Trained on the split's whole words with a loss at every position (AdamW, as Karpathy's
makemore transformer); evaluated like the MLP and the WaveNet: mean cross-entropy of the
next character over every window of the split, from a 16-character window (longer than
every name, so the GPT reads each prefix whole). Samples come from the KV-cache sampler.
``--config.head_dim=64`` makes the heads wide (each one full width) instead of narrow.

Run:      python -m train makemore --config=transformer --workdir=runs/makemore_gpt
Expect:   test_loss MEASURED_TEST (the WaveNet's: 2.013).
Time:     MEASURED_TIME on a 2-core CPU.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), model="transformer", block_size=16, init="scaled")
    c = override(c, n_embd=64, n_hidden=256, n_layer=4, n_head=4, head_dim=0)
    c = override(c, optim="adamw", learning_rate=1e-3, batch_size=32)
    c = override(c, num_steps=8000, lr_decay_at=0.75, chunk_steps=500)
    return override(c, lr_find_steps=0)
