"""ODE solvers: fixed-step Runge–Kutta as a ``lax.scan``, adaptive diffrax solves, toy systems."""

from jaxdl.ode.fixed_step import (
    EULER,
    HEUN,
    MIDPOINT,
    RK4,
    RK38,
    TABLEAUS,
    ButcherTableau,
    fixed_step_solve,
    get_tableau,
)
from jaxdl.ode.reference import reference_solution
from jaxdl.ode.solve import ADJOINTS, SOLVERS, odeint, solve, solve_errors
from jaxdl.ode.systems import CubicSpiral, DampedOscillator, LotkaVolterra

__all__ = [
    "ADJOINTS",
    "EULER",
    "HEUN",
    "MIDPOINT",
    "RK4",
    "RK38",
    "SOLVERS",
    "TABLEAUS",
    "ButcherTableau",
    "CubicSpiral",
    "DampedOscillator",
    "LotkaVolterra",
    "fixed_step_solve",
    "get_tableau",
    "odeint",
    "reference_solution",
    "solve",
    "solve_errors",
]
