"""makemore, 16 runs of the default MLP in one compiled program: 4 learning rates x 4 seeds.

Run:      python -m train makemore --config=sweep --workdir=runs/makemore_sweep
Expect:   sweep.md / sweep.csv with train/dev/test loss per run; at lr 0.1 test_loss about
          2.19 for every seed, 0.05 slightly worse, 0.4 worse.
Time:     about a minute on a 2-core CPU, several times less than 16 separate runs
          (`python -m benchmarks.run makemore_sweep` measures the ratio).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.lr_find_steps = 0
    c.sweep = ml_collections.ConfigDict(
        {"learning_rate": [0.05, 0.1, 0.2, 0.4], "seed": [0, 1, 2, 3]}
    )
    return c
