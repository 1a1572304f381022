"""makemore, the seed's hyperparameter table: its 15 rows, each trained with 2 seeds.

The rows are the seed notebook's "Tuning" homework (seed 002): context ``block_size``,
``n_hidden`` (the seed's ``num_neurons``), ``n_embd`` (``num_features``), ``num_steps``
and ``batch_size``; everything else is the default MLP's (SGD at 0.1, times 0.1 after
half the steps, every parameter N(0, 1)). Each row runs with seeds 0 and 1 as one
vmapped program (the rows' shapes all differ, so 15 programs); results and the seed's
test losses side by side in ``train/makemore/TABLE.md``.

Run:      python -m train makemore --config=table --workdir=runs/makemore_table
          (add --config.data_path=names.txt for Karpathy's word list)
Expect:   sweep.md / sweep.csv; test losses within 0.06 of the seed's except row 2
          (20,000 steps: 2.40 against the seed's 2.53), best 2.16 (row 10); TABLE.md.
Time:     26 minutes measured on a 2-core CPU shared with other jobs (load average
          about 20); 3.02 million steps per seed, 15 programs to compile.
"""

import ml_collections

from . import default

# (block_size, n_hidden, n_embd, num_steps, batch_size, the seed's test loss)
SEED_TABLE = (
    (4, 10, 30, 200_000, 16, 2.3414),
    (4, 10, 2, 20_000, 16, 2.5306),
    (4, 10, 4, 200_000, 2, 2.3566),
    (2, 10, 4, 200_000, 16, 2.3719),
    (3, 10, 4, 200_000, 16, 2.3340),
    (3, 100, 10, 200_000, 32, 2.1759),
    (3, 100, 20, 200_000, 8, 2.1759),
    (3, 500, 5, 200_000, 32, 2.1734),
    (3, 80, 4, 200_000, 32, 2.2322),
    (4, 300, 14, 400_000, 40, 2.1812),
    (3, 200, 6, 200_000, 32, 2.1625),
    (3, 20, 6, 200_000, 32, 2.2723),
    (3, 300, 6, 200_000, 32, 2.1847),
    (3, 220, 6, 200_000, 32, 2.1871),
    (3, 180, 6, 200_000, 32, 2.1850),
)
FIELDS = ("block_size", "n_hidden", "n_embd", "num_steps", "batch_size")


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.lr_find_steps = 0
    c.rows = [dict(zip(FIELDS, row[:5], strict=True)) for row in SEED_TABLE]
    c.sweep = ml_collections.ConfigDict({"seed": [0, 1]})
    return c
