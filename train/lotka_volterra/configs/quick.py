"""Lotka–Volterra on a short interval, for tests and smoke runs.

Run:      python -m train lotka_volterra --config=quick --workdir=/tmp/lv_quick
Expect:   finishes and writes every artefact; RK4's fitted order near 4.
Time:     about 10 seconds on a 2-core CPU.
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.t1 = 3.0
    c.num_points = 31
    c.fixed_methods = ("rk4",)
    c.order_points = 4
    c.substeps.rk4 = (40, 80, 160, 320)
    return c
