"""Karate club GCN, 2 seeds and 60 steps: for tests and smoke runs.

Run:      python -m train gcn_karate --config=quick --workdir=/tmp/gcn_karate_quick
Expect:   finishes; accuracy usually well above chance already.
Time:     a few seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.num_steps = 60
    c.num_seeds = 2
    return c
