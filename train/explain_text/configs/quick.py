"""Explain all-MiniLM-L6-v2 on 8 pairs with a coarse curve: for tests and smoke runs.

Run:      python -m train explain_text --config=quick --workdir=/tmp/explain_quick
Expect:   aopc_lrp 0.554 > aopc_random 0.334 (measured).
Time:     about 20 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.num_texts = 8
    c.num_steps = 4
    return c
