"""Trace-time shape checks that raise one clear ``ValueError``."""

from __future__ import annotations

import jax


def check_rank(
    name: str, x: jax.Array, *, rank: int | None = None, min_rank: int | None = None
) -> None:
    """Raises ``ValueError`` naming ``name`` unless ``x`` has the expected rank."""
    if rank is not None and x.ndim != rank:
        raise ValueError(f"{name} has shape {x.shape} (rank {x.ndim}), expected rank {rank}.")
    if min_rank is not None and x.ndim < min_rank:
        raise ValueError(
            f"{name} has shape {x.shape} (rank {x.ndim}), expected rank >= {min_rank}."
        )


def check_same_shape(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
    """Raises ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape}, expected {name_b}'s shape {b.shape}.")


def check_trailing_shape(name: str, x: jax.Array, expected: tuple[int, ...]) -> None:
    """Raises ``ValueError`` unless ``x.shape`` ends with ``expected``."""
    expected = tuple(expected)
    if x.ndim < len(expected) or tuple(x.shape[x.ndim - len(expected) :]) != expected:
        dims = ", ".join(str(d) for d in expected)
        raise ValueError(f"{name} has shape {x.shape}, expected shape (..., {dims}).")
