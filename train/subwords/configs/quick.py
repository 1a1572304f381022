"""subwords on a tiny budget: for tests and smoke runs.

Run:      python -m train subwords --config=quick --workdir=/tmp/subwords_quick
Expect:   finishes; the neighbours are noise (2,000 entries, 1 epoch, dim 16).
Time:     about 20 seconds on a 2-core CPU, mostly compiling.
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.max_lines = 2000
    c.min_count = 2
    c.bucket = 20_000
    c.dim = 16
    c.epoch = 1
    return c
