"""Lotka–Volterra, the seed's system: SciPy vs diffrax vs fixed-step Runge–Kutta.

Run:      python -m train lotka_volterra --workdir=runs/lotka_volterra
Expect:   diffrax Tsit5/Dopri5 within 1e-6 of SciPy at rtol = atol = 1e-8 (measured
          numbers in train/lotka_volterra/README.md); SciPy's default tolerances about
          0.24 off; fitted orders euler ~1, midpoint ~2, rk4 ~4.
Time:     about 15 seconds on a 2-core CPU.
Scale:    --config.mesh=data=2 runs the JAX solves replicated on every device (one
          initial condition, nothing to split: the same numbers as one device); the other
          scaling fields are rejected (see get_config).
"""

import ml_collections

from ..._common import add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.alpha, c.beta, c.delta, c.gamma = 1.5, 1.0, 3.0, 1.0
    c.u0 = (1.0, 1.0)
    c.t1 = 15.0
    c.num_points = 501
    c.rtol = 1e-8
    c.atol = 1e-8
    c.max_steps = 100_000
    c.fixed_methods = ("euler", "midpoint", "rk4", "rk38")
    # Convergence study: save points once per time unit, and steps per save interval
    # inside each method's asymptotic range (and above the reference's own error).
    c.order_points = 16
    c.substeps = ml_collections.ConfigDict(
        {
            "euler": (400, 800, 1600, 3200),
            "midpoint": (40, 80, 160, 320),
            "heun": (40, 80, 160, 320),
            "rk4": (40, 80, 160, 320),
            "rk38": (40, 80, 160, 320),
        }
    )
    # Scaling: nothing trains here. A mesh replicates the initial condition and the save
    # times, so the diffrax and fixed-step solves run on every device of it (SciPy's on
    # the host, as without one). Rejected: precision (the comparison is float64), remat,
    # accum_steps (no gradient, no batch) and multi-host runs.
    return add_scale_fields(c)
