"""Sampling names from a character-level language model, all samples at once."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Int

from jaxdl.data.names import END, decode


def sample(
    model: nnx.Module,
    *,
    key: jax.Array,
    num_samples: int,
    max_length: int = 32,
    temperature: float = 1.0,
) -> Int[Array, "num_samples max_length"]:
    """Draws ``num_samples`` words character by character until each emits ``'.'``.

    Every sample starts from a context of dots and draws from
    ``softmax(logits / temperature)``; all samples advance together, one ``lax.scan``
    step per character. Sample ``i`` uses only ``fold_in(key, i)``, so it is the same
    whatever ``num_samples`` is. After its ``'.'`` a row is padded with ``'.'``; a word
    still going at ``max_length`` is cut and its last character set to ``'.'``, so every
    row ends a word.

    Returns:
      ``(num_samples, max_length)`` character ids; :func:`decode_samples` turns them
      into strings.

    Example:
      >>> import jax
      >>> from flax import nnx
      >>> from jaxdl.nn.char_lm import MLPLanguageModel
      >>> ids = sample(MLPLanguageModel(rngs=nnx.Rngs(0)), key=jax.random.key(1), num_samples=4)
      >>> ids.shape, bool((ids[:, -1] == 0).all())
      ((4, 32), True)
    """
    if num_samples < 1 or max_length < 1:
        raise ValueError(
            f"num_samples is {num_samples} and max_length {max_length}, expected both >= 1."
        )
    if not temperature > 0:
        raise ValueError(f"temperature is {temperature}, expected > 0.")
    graphdef, state = nnx.split(model)
    return _sample(graphdef, state, key, num_samples, max_length, float(temperature))


@partial(jax.jit, static_argnums=(0, 3, 4))
def _sample(graphdef, state, key, num_samples, max_length, temperature):
    model = nnx.merge(graphdef, state, copy=True)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_samples))
    context = jnp.full((num_samples, model.block_size), END, jnp.int32)
    done = jnp.zeros((num_samples,), bool)

    def body(carry, t):
        context, done = carry
        logits = model(context, train=False) / temperature
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
        ix = jax.vmap(jax.random.categorical)(step_keys, logits).astype(jnp.int32)
        ix = jnp.where(done | (t == max_length - 1), END, ix)
        context = jnp.concatenate([context[:, 1:], ix[:, None]], axis=1)
        return (context, done | (ix == END)), ix

    _, ids = jax.lax.scan(body, (context, done), jnp.arange(max_length))
    return ids.T


def decode_samples(ids: Any) -> list[str]:
    """The words of :func:`sample`'s rows, each ending with ``'.'``."""
    return [decode(row) for row in jax.device_get(ids)]
