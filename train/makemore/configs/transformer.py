"""makemore, a character GPT (pre-LN, GPT-2 layout) on the same names split and evaluation.

Trained on the split's whole words with a loss at every position (AdamW, as Karpathy's
makemore transformer); evaluated like the MLP and the WaveNet: mean cross-entropy of the
next character over every window of the split, from a 16-character window (longer than
every name, so the GPT reads each prefix whole). Samples come from the KV-cache sampler.
``--config.head_dim=64`` makes the heads wide (each one full width) instead of narrow.

Run:      python -m train makemore --config=transformer --workdir=runs/makemore_gpt
Expect:   test_loss 2.038 (measured 2.0383, dev 2.0386, train 1.944: it overfits; the
          WaveNet's 2.013 is not reached). --config.dropout=0.1 measured 2.049;
          --config.dropout=0.2 --config.num_steps=16000 measured 2.0249 (dev 2.0290,
          train 1.957; 2905 s beside other jobs); --config.dropout=0.3
          --config.num_steps=24000 measured 2.0224 (dev 2.0229, train 1.953; 45.8 steps/s,
          about 9 minutes on an idle 2-core CPU), the best so far, still above 2.013.
          With that: --config.weight_decay=0.1 measured 2.0633 (train 2.017: too much);
          --config.ema_decay=0.999 (the weights' moving average evaluated) 2.0232 against
          the last weights' 2.0224 in the same run: the step decay already averages.
Time:     about 20 minutes on a busy 2-core CPU (1244 s measured, 13 steps/s, with 6
          other jobs sharing the cores), 202,816 parameters. For comparison: the MLP
          (11,897 parameters) 2.192 in about 25 s, the WaveNet (76,579) 2.013 in 122 s.

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
    c = override(c, optim="adamw", learning_rate=1e-3, batch_size=32)
    c = override(c, num_steps=8000, lr_decay_at=0.75, chunk_steps=500)
    return override(c, lr_find_steps=0)
