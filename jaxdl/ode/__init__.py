"""ODE solvers and neural ODEs: fixed-step Runge–Kutta, adaptive diffrax solves, toy systems.

Solvers and adjoints are diffrax objects (:class:`SolveOptions`); the neural-ODE vector
field and its fitting losses are in :mod:`jaxdl.ode.neural`. This package loads diffrax,
which is why ``jaxdl.nn`` does not import it.
"""

from jaxdl._extras import missing_extra

try:
    import diffrax  # noqa: F401  (checked first: a missing extra fails with its install line)
except ImportError as e:
    raise missing_extra("jaxdl.ode", "ode", e, "diffrax") from e

from jaxdl.ode.fixed_step import (
    EULER,
    HEUN,
    MIDPOINT,
    RK4,
    RK38,
    TABLEAUS,
    ButcherTableau,
    fixed_step_solve,
)
from jaxdl.ode.neural import NeuralODE
from jaxdl.ode.reference import reference_solution
from jaxdl.ode.solve import SolveOptions, odeint, solve, solve_errors
from jaxdl.ode.systems import CubicSpiral, DampedOscillator, LotkaVolterra

__all__ = [
    "EULER",
    "HEUN",
    "MIDPOINT",
    "RK4",
    "RK38",
    "TABLEAUS",
    "ButcherTableau",
    "CubicSpiral",
    "DampedOscillator",
    "LotkaVolterra",
    "NeuralODE",
    "SolveOptions",
    "fixed_step_solve",
    "odeint",
    "reference_solution",
    "solve",
    "solve_errors",
]
