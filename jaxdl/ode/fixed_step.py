"""Fixed-step explicit Runge–Kutta solvers as one ``lax.scan``, from a Butcher tableau.

The seed's ``RungeKuttaSolver`` takes RK4 steps in a Python loop. Here any explicit
method is a :class:`ButcherTableau`; :func:`fixed_step_solve` runs it over a grid of save
times with ``substeps`` equal steps between consecutive save times, all inside one scan,
so it jits once and ``jax.vmap`` over initial conditions (or parameters) just works.

Vector fields follow diffrax's signature ``f(t, y, args) -> dy/dt`` with ``y`` any array
shape; the same function can be handed to :func:`jaxdl.ode.odeint`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from jaxdl.ode._validate import prepare

VectorField = Callable[[Any, jax.Array, Any], jax.Array]


@dataclasses.dataclass(frozen=True)
class ButcherTableau:
    r"""An explicit Runge–Kutta method: stages ``k_i = f(t + c_i h, y + h \sum_j a_ij k_j)``.

    The step is ``y + h \sum_i b_i k_i``. ``a`` is strictly lower triangular (explicit),
    given as rows: ``a[i]`` holds the ``i`` coefficients of stage ``i + 1``.

    Attributes:
      name: for messages and tables.
      order: the method's global order of accuracy (what the convergence test checks).
      a: ``a[i][j]`` for stage ``i + 1`` and ``j <= i``; ``len(a) == len(b) - 1``.
      b: weights of the stages, summing to 1.
      c: nodes; ``c[0] == 0`` and ``c[i] == sum(a[i - 1])`` for a consistent method.
    """

    name: str
    order: int
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]

    def __post_init__(self) -> None:
        s = len(self.b)
        if len(self.c) != s or len(self.a) != s - 1:
            raise ValueError(
                f"{self.name}: b has {s} stages, expected c of length {s} (got "
                f"{len(self.c)}) and a with {s - 1} rows (got {len(self.a)})."
            )
        for i, row in enumerate(self.a):
            if len(row) != i + 1:
                raise ValueError(
                    f"{self.name}: a[{i}] has {len(row)} entries, expected {i + 1} "
                    "(an explicit method's tableau is strictly lower triangular)."
                )
            if not np.isclose(sum(row), self.c[i + 1]):
                raise ValueError(
                    f"{self.name}: c[{i + 1}] is {self.c[i + 1]}, expected sum(a[{i}]) = "
                    f"{sum(row)}."
                )
        if not np.isclose(sum(self.b), 1.0):
            raise ValueError(f"{self.name}: b sums to {sum(self.b)}, expected 1.")

    @property
    def stages(self) -> int:
        return len(self.b)

    def step(self, f: VectorField, t: jax.Array, y: jax.Array, h: jax.Array, args: Any) -> Any:
        """One step of size ``h`` from ``(t, y)``; returns ``y(t + h)``."""
        ks = [f(t, y, args)]
        for row, c in zip(self.a, self.c[1:], strict=True):
            # Zero coefficients are skipped at trace time, so RK4 costs exactly 4 calls
            # and no wasted multiply-adds.
            y_stage = y
            for a, k in zip(row, ks, strict=True):
                if a != 0:
                    y_stage = y_stage + (a * h) * k
            ks.append(f(t + c * h, y_stage, args))
        for b, k in zip(self.b, ks, strict=True):
            if b != 0:
                y = y + (b * h) * k
        return y


EULER = ButcherTableau("euler", 1, a=(), b=(1.0,), c=(0.0,))
MIDPOINT = ButcherTableau("midpoint", 2, a=((0.5,),), b=(0.0, 1.0), c=(0.0, 0.5))
HEUN = ButcherTableau("heun", 2, a=((1.0,),), b=(0.5, 0.5), c=(0.0, 1.0))
RK4 = ButcherTableau(
    "rk4",
    4,
    a=((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    c=(0.0, 0.5, 0.5, 1.0),
)
# Kutta's 3/8 rule: another fourth-order method, a check that the stepper is general.
RK38 = ButcherTableau(
    "rk38",
    4,
    a=((1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
    b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
    c=(0.0, 1 / 3, 2 / 3, 1.0),
)
TABLEAUS = {t.name: t for t in (EULER, MIDPOINT, HEUN, RK4, RK38)}


def fixed_step_solve(
    f: VectorField,
    y0: Float[ArrayLike, "*state"],
    ts: Float[ArrayLike, " times"],
    *,
    method: ButcherTableau = RK4,
    substeps: int = 1,
    args: Any = None,
) -> Float[Array, " times *state"]:
    r"""Solves ``dy/dt = f(t, y, args)``, ``y(ts[0]) = y0`` with a fixed-step explicit method.

    Between ``ts[k]`` and ``ts[k + 1]`` it takes ``substeps`` equal steps of size
    ``(ts[k + 1] - ts[k]) / substeps``, so the global error at the save points is
    :math:`O(h^p)` for a method of order :math:`p`. ``ts`` need not be uniform.

    Args:
      f: the vector field ``f(t, y, args)``, returning an array of ``y``'s shape.
      y0: the initial state at ``ts[0]``, any shape.
      ts: strictly increasing save times, shape ``(T,)`` with ``T >= 2``.
      method: a :class:`ButcherTableau` (:data:`RK4`, :data:`EULER` ...; a name maps to
        one through :data:`TABLEAUS`).
      substeps: steps per save interval, ``>= 1``.
      args: passed to ``f`` unchanged (parameters; differentiable).

    Returns:
      ``ys`` of shape ``(T, *y0.shape)`` with ``ys[0] == y0``.

    Raises:
      ValueError: on non-increasing ``ts``, ``substeps < 1``, or a vector field that
        returns the wrong shape.
      TypeError: ``method`` is not a :class:`ButcherTableau` (e.g. a name).

    Example:
      >>> import jax.numpy as jnp
      >>> decay = lambda t, y, args: -y
      >>> ys = fixed_step_solve(decay, jnp.ones(1), jnp.linspace(0.0, 1.0, 3), substeps=10)
      >>> ys.shape, bool(jnp.abs(ys[-1, 0] - jnp.exp(-1.0)) < 1e-6)
      ((3, 1), True)
    """
    if not isinstance(method, ButcherTableau):
        raise TypeError(
            f"method is {method!r}, expected a ButcherTableau such as jaxdl.ode.RK4 "
            "(jaxdl.ode.TABLEAUS maps names to them)."
        )
    if not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"substeps is {substeps!r}, expected an integer >= 1.")
    y0, ts = prepare(f, y0, ts, args)

    def interval(y: jax.Array, t_pair: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        t_start, t_end = t_pair
        h = (t_end - t_start) / substeps

        def one(i: jax.Array, y: jax.Array) -> jax.Array:
            # t from the step index, not by accumulation: no drift in long intervals.
            return method.step(f, t_start + i * h, y, h, args)

        y = lax.fori_loop(0, substeps, one, y)
        return y, y

    _, ys = lax.scan(interval, y0, (ts[:-1], ts[1:]))
    return jnp.concatenate([y0[None], ys], axis=0)
