"""The addition task of the Flax seq2seq example, as fixed-width token sequences.

Source ``"042+917"`` (both operands zero-padded to ``digits``), target ``"0959"`` (the sum
zero-padded to ``digits + 1``); the decoder starts from ``"="``. With ``reverse=True`` the
answer is written least significant digit first (``"9590"``), so each digit depends only
on digits already emitted plus the carry, which a GRU learns much faster. Batches are
drawn on the device from a key.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PRNGKeyArray

PLUS, EQUALS = 10, 11
VOCAB_SIZE = 12  # digits 0-9, "+", "="


class AdditionBatch(NamedTuple):
    source: Int[Array, " batch src"]  # a + b
    target_inputs: Int[Array, " batch tgt"]  # "=" then the answer minus its last digit
    targets: Int[Array, " batch tgt"]  # the answer


def _digits(n: jax.Array, width: int) -> jax.Array:
    powers = 10 ** jnp.arange(width - 1, -1, -1)
    return (n[:, None] // powers) % 10


@functools.partial(jax.jit, static_argnames=("batch_size", "digits", "reverse"))
def addition_batch(
    key: PRNGKeyArray, *, batch_size: int, digits: int = 3, reverse: bool = False
) -> AdditionBatch:
    """``batch_size`` random sums of two numbers below ``10 ** digits``.

    >>> b = addition_batch(jax.random.key(0), batch_size=2, digits=2)
    >>> s, t = decode(b.source[0]), decode(b.targets[0])
    >>> int(s[:2]) + int(s[3:]) == int(t), len(t), decode(b.target_inputs[0])[0]
    (True, 3, '=')
    """
    ka, kb = jax.random.split(key)
    a = jax.random.randint(ka, (batch_size,), 0, 10**digits)
    b = jax.random.randint(kb, (batch_size,), 0, 10**digits)
    plus = jnp.full((batch_size, 1), PLUS)
    source = jnp.concatenate([_digits(a, digits), plus, _digits(b, digits)], axis=1)
    targets = _digits(a + b, digits + 1)
    if reverse:
        targets = targets[:, ::-1]
    start = jnp.full((batch_size, 1), EQUALS)
    return AdditionBatch(source, jnp.concatenate([start, targets[:, :-1]], axis=1), targets)


def decode(tokens) -> str:
    """Tokens back to text ("+", "=", digits); for reading examples."""
    return "".join("+" if t == PLUS else "=" if t == EQUALS else str(int(t)) for t in tokens)
