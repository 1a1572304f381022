r"""Noise schedules and the forward process of denoising diffusion (Ho et al. 2020).

A :class:`Schedule` holds :math:`\beta_t`, :math:`\alpha_t = 1 - \beta_t` and
:math:`\bar\alpha_t = \prod_{s \le t} \alpha_s` for ``t = 0 .. T-1`` (diffusers' indexing),
precomputed once: ``alpha_bar[t]`` is a lookup, not a product per example per step as in
the seed (whose ``prod(alpha[:t])`` also stops one factor short).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, ArrayLike, Float, Int

SCHEDULES = ("linear", "cosine", "seed")


@struct.dataclass
class Schedule:
    """Per-timestep coefficients; a pytree, so it can be passed into ``jit``."""

    betas: jax.Array
    alphas: jax.Array
    alpha_bar: jax.Array

    @property
    def num_timesteps(self) -> int:
        return self.betas.shape[0]


def _from_betas(betas: jax.Array) -> Schedule:
    betas = jnp.asarray(betas, jnp.float32)
    alphas = 1.0 - betas
    return Schedule(betas, alphas, jnp.cumprod(alphas))


def make_schedule(
    kind: str = "linear",
    num_timesteps: int = 1000,
    *,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
) -> Schedule:
    r"""A noise schedule.

    - ``"linear"``: :math:`\beta_t` evenly from ``beta_start`` to ``beta_end`` (Ho et al.;
      diffusers' ``"linear"``).
    - ``"cosine"``: :math:`\bar\alpha(t) = \cos^2\big(\frac{t/T + s}{1 + s}\frac{\pi}{2}\big)`,
      ``s = 0.008``, :math:`\beta` capped at 0.999 (Nichol & Dhariwal 2021; diffusers'
      ``"squaredcos_cap_v2"``).
    - ``"seed"``: the seed's ``alpha = linspace(0.9999, 0.98, T)``. That is the linear
      schedule written through :math:`\alpha`: the same betas up to float rounding.

    Example:
      >>> s = make_schedule("linear", 1000)
      >>> float(s.alpha_bar[0]), round(float(s.alpha_bar[-1]), 6)
      (0.9998999834060669, 4e-05)
    """
    if num_timesteps < 1:
        raise ValueError(f"num_timesteps is {num_timesteps}, expected >= 1.")
    if kind == "linear":
        return _from_betas(jnp.linspace(beta_start, beta_end, num_timesteps))
    if kind == "seed":
        return _from_betas(1.0 - jnp.linspace(0.9999, 0.98, num_timesteps))
    if kind == "cosine":

        def f(t):
            return math.cos((t / num_timesteps + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = [min(1 - f(i + 1) / f(i), 0.999) for i in range(num_timesteps)]
        return _from_betas(jnp.asarray(betas))
    raise ValueError(f"kind is {kind!r}, expected one of {SCHEDULES}.")


def check_timesteps(t: jax.Array, num_timesteps: int, name: str = "t") -> None:
    """``ValueError`` when concrete timesteps fall outside ``[0, num_timesteps)``."""
    if isinstance(t, jax.core.Tracer):
        return  # traced values are checked by the caller's shapes only
    lo, hi = int(jnp.min(t)), int(jnp.max(t))
    if lo < 0 or hi >= num_timesteps:
        raise ValueError(
            f"{name} has values in [{lo}, {hi}], expected timesteps in [0, {num_timesteps})."
        )


def _per_example(coef: jax.Array, x: jax.Array) -> jax.Array:
    return coef.reshape(coef.shape + (1,) * (x.ndim - coef.ndim))


def q_sample(
    schedule: Schedule,
    x0: Float[ArrayLike, " batch *dims"],
    t: Int[ArrayLike, " batch"],
    noise: Float[ArrayLike, " batch *dims"],
) -> Float[Array, " batch *dims"]:
    r"""Samples :math:`q(x_t \mid x_0)`:
    :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon`.

    Example:
      >>> import jax.numpy as jnp
      >>> s = make_schedule()
      >>> q_sample(s, jnp.ones((2, 3)), jnp.array([0, 999]), jnp.zeros((2, 3))).round(3)
      Array([[1.   , 1.   , 1.   ],
             [0.006, 0.006, 0.006]], dtype=float32)
    """
    x0, noise, t = jnp.asarray(x0), jnp.asarray(noise), jnp.asarray(t)
    if x0.shape != noise.shape:
        raise ValueError(f"noise has shape {noise.shape}, expected x0's shape {x0.shape}.")
    if t.shape != x0.shape[:1]:
        raise ValueError(f"t has shape {t.shape}, expected ({x0.shape[0]},): one per example.")
    check_timesteps(t, schedule.num_timesteps)
    ab = schedule.alpha_bar[t]
    return _per_example(jnp.sqrt(ab), x0) * x0 + _per_example(jnp.sqrt(1 - ab), x0) * noise
