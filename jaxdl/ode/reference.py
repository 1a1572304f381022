"""Accurate reference trajectories (float64, tight tolerances), e.g. as training data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from jaxdl.ode.solve import SolveOptions, odeint


def reference_solution(
    f: Callable[[Any, jax.Array, Any], jax.Array],
    y0: ArrayLike,
    ts: ArrayLike,
    *,
    args: Any = None,
    tol: float = 1e-12,
    max_steps: int = 100_000,
) -> np.ndarray:
    """``y`` at ``ts`` from an 8th-order solve in float64 with ``rtol = atol = tol``.

    Runs under ``jax.enable_x64`` whatever the global setting, and returns a float64
    NumPy array of shape ``(T, *y0.shape)``. SciPy's default ``solve_ivp`` tolerances
    (``rtol=1e-3``) put the seed's Lotka–Volterra trajectory about 0.24 off this one.

    Example:
      >>> import numpy as np
      >>> ys = reference_solution(lambda t, y, a: -y, [1.0], [0.0, 1.0])
      >>> ys.dtype, bool(abs(ys[-1, 0] - np.exp(-1.0)) < 1e-11)
      (dtype('float64'), True)
    """
    with jax.enable_x64(True):
        ys = odeint(
            f,
            jnp.asarray(y0, jnp.float64),
            jnp.asarray(ts, jnp.float64),
            args=args,
            options=SolveOptions(solver=diffrax.Dopri8(), rtol=tol, atol=tol, max_steps=max_steps),
        )
        return np.asarray(ys)
