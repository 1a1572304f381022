"""Checks that turn bad ODE inputs into one clear ``ValueError`` before anything is traced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike


def concrete(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` when it is a tracer (inside ``jit``/``vmap``)."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_ts(ts: jax.Array) -> None:
    """``ts`` must be 1-D with >= 2 strictly increasing times (values checked when concrete)."""
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"ts has shape {ts.shape}, expected (T,) with T >= 2 save times.")
    values = concrete(ts)
    if values is None:
        return  # traced: the caller promised sorted times; diffrax would reject them anyway
    steps = np.diff(values)
    bad = np.flatnonzero(~(steps > 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"ts must be strictly increasing, but ts[{i}] = {values[i]:g} and "
            f"ts[{i + 1}] = {values[i + 1]:g}; sort the save times and drop duplicates."
        )


def check_vector_field(f: Callable[..., Any], t0: jax.Array, y0: jax.Array, args: Any) -> None:
    """``f(t0, y0, args)`` must return an array of ``y0``'s shape (checked abstractly)."""
    out = jax.eval_shape(f, t0, y0, args)
    shape = getattr(out, "shape", None)
    if shape != y0.shape:
        got = f"shape {shape}" if shape is not None else f"a {type(out).__name__}"
        raise ValueError(
            f"The vector field returned {got} for a state of shape {y0.shape}; "
            f"f(t, y, args) must return dy/dt with the shape of y."
        )


def prepare(
    f: Callable[..., Any], y0: ArrayLike, ts: ArrayLike, args: Any
) -> tuple[jax.Array, jax.Array]:
    """``(y0, ts)`` as arrays of one floating dtype, checked; integer ``y0`` becomes float.

    Every solver starts here, so the fixed-step and adaptive solves accept the same inputs
    and reject bad ones with the same sentences.
    """
    y0 = jnp.asarray(y0)
    if not jnp.issubdtype(y0.dtype, jnp.inexact):
        y0 = y0.astype(jnp.result_type(float))
    ts = jnp.asarray(ts, dtype=y0.dtype)
    check_ts(ts)
    check_vector_field(f, ts[0], y0, args)
    return y0, ts
