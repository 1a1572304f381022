"""Toy ODE systems as vector fields ``f(t, y, args) -> dy/dt`` (diffrax's signature).

Each is a frozen dataclass holding its coefficients, so it is hashable (a static
argument to ``jit``) and its defaults document the seed's choices. ``args`` is ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, Float


@dataclasses.dataclass(frozen=True)
class LotkaVolterra:
    r"""Predator–prey dynamics, the seed's system.

    .. math::
        \dot u_1 = \alpha u_1 - \beta u_1 u_2, \qquad \dot u_2 = \delta u_1 u_2 - \gamma u_2

    ``u1`` is the prey, ``u2`` the predator. The seed uses ``alpha=1.5, beta=1,
    delta=3, gamma=1`` and ``u0 = (1, 1)`` on ``[0, 15]``. Orbits are closed: the
    quantity :meth:`invariant` is conserved along every solution.

    Example:
      >>> import jax.numpy as jnp
      >>> LotkaVolterra()(0.0, jnp.array([1.0, 1.0]))
      Array([0.5, 2. ], dtype=float32)
    """

    alpha: float = 1.5
    beta: float = 1.0
    delta: float = 3.0
    gamma: float = 1.0

    def __call__(self, t: Any, y: Float[Array, "*batch 2"], args: Any = None) -> Array:
        u1, u2 = y[..., 0], y[..., 1]
        return jnp.stack(
            [self.alpha * u1 - self.beta * u1 * u2, self.delta * u1 * u2 - self.gamma * u2],
            axis=-1,
        )

    def invariant(self, y: Float[Array, "*batch 2"]) -> Float[Array, "*batch"]:
        r"""The conserved quantity.

        .. math:: V = \delta u_1 - \gamma \log u_1 + \beta u_2 - \alpha \log u_2
        """
        u1, u2 = y[..., 0], y[..., 1]
        return (
            self.delta * u1 - self.gamma * jnp.log(u1) + self.beta * u2 - self.alpha * jnp.log(u2)
        )


@dataclasses.dataclass(frozen=True)
class DampedOscillator:
    r"""``x'' + 2 zeta omega x' + omega^2 x = 0`` as the first-order system ``y = (x, v)``.

    Underdamped for ``zeta < 1``: :meth:`exact` gives the closed-form solution, which the
    solver tests use as ground truth.

    Example:
      >>> import jax.numpy as jnp
      >>> DampedOscillator()(0.0, jnp.array([1.0, 0.0]))
      Array([ 0., -4.], dtype=float32)
    """

    omega: float = 2.0
    zeta: float = 0.1

    def __call__(self, t: Any, y: Float[Array, "*batch 2"], args: Any = None) -> Array:
        x, v = y[..., 0], y[..., 1]
        return jnp.stack([v, -2.0 * self.zeta * self.omega * v - self.omega**2 * x], axis=-1)

    def exact(self, t: Float[Array, " times"], y0: Float[Array, "2"]) -> Float[Array, "times 2"]:
        """The solution from ``y0`` at ``t`` (``t = 0`` is the start), for ``zeta < 1``."""
        if not 0 <= self.zeta < 1:
            raise ValueError(f"zeta is {self.zeta}, expected 0 <= zeta < 1 (underdamped).")
        x0, v0 = y0[0], y0[1]
        decay = self.zeta * self.omega
        wd = self.omega * (1.0 - self.zeta**2) ** 0.5
        c1, c2 = x0, (v0 + decay * x0) / wd
        envelope = jnp.exp(-decay * t)
        cos, sin = jnp.cos(wd * t), jnp.sin(wd * t)
        x = envelope * (c1 * cos + c2 * sin)
        v = envelope * ((c2 * wd - decay * c1) * cos - (c1 * wd + decay * c2) * sin)
        return jnp.stack([x, v], axis=-1)


@dataclasses.dataclass(frozen=True)
class CubicSpiral:
    r"""``dy/dt = (y^3) A`` (elementwise cube), the spiral of the neural-ODE literature.

    With ``A = [[-0.1, 2], [-2, -0.1]]`` and ``y0 = (2, 0)`` it spirals in towards the
    origin (the demo system of torchdiffeq's examples).

    Example:
      >>> import jax.numpy as jnp
      >>> CubicSpiral()(0.0, jnp.array([2.0, 0.0]))
      Array([-0.8, 16. ], dtype=float32)
    """

    a: tuple[tuple[float, float], tuple[float, float]] = ((-0.1, 2.0), (-2.0, -0.1))

    def __call__(self, t: Any, y: Float[Array, "*batch 2"], args: Any = None) -> Array:
        return (y**3) @ jnp.asarray(self.a, dtype=y.dtype)
