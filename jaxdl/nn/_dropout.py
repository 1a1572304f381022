"""Dropout driven by an explicit key instead of an NNX ``Rngs`` stream."""

from __future__ import annotations

import jax
from flax import nnx


class Dropout(nnx.Module):
    """Inverted dropout whose randomness comes from the ``key`` passed at call time.

    Keeping the key out of the module's state means a train step is a pure function of
    ``(params, batch, key)``: the same key gives the same mask, and resuming a run only
    needs the step counter, not a saved RNG stream.
    """

    def __init__(self, rate: float):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate is {rate}, expected a value in [0, 1).")
        self.rate = rate

    def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None) -> jax.Array:
        if not train or self.rate == 0.0:
            return x
        if key is None:
            raise ValueError("key is None, expected a PRNG key when train=True and rate > 0.")
        keep = jax.random.bernoulli(key, 1.0 - self.rate, x.shape)
        return jax.numpy.where(keep, x / (1.0 - self.rate), 0.0).astype(x.dtype)


def split_key(key: jax.Array | None, num: int) -> list[jax.Array | None]:
    """Splits ``key`` into ``num`` keys, or returns ``num`` Nones when there is no key."""
    if key is None:
        return [None] * num
    return list(jax.random.split(key, num))
