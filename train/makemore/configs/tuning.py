"""makemore, the seed's tuning table: context, embedding and hidden sizes, 2 seeds each.

Shapes change between these runs, so they are trained group by group (one compiled,
vmapped program per shape, both seeds together).

Run:      python -m train makemore --config=tuning --workdir=runs/makemore_tuning
Expect:   sweep.md / sweep.csv like the seed's table; larger embeddings and contexts help.
Time:     several minutes on a 2-core CPU (8 groups of 200,000 steps).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.lr_find_steps = 0
    c.sweep = ml_collections.ConfigDict(
        {"block_size": [3, 4], "n_embd": [10, 30], "n_hidden": [100, 300], "seed": [0, 1]}
    )
    return c
