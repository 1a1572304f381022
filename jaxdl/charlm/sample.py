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


def sample_cached(
    model: nnx.Module,
    *,
    key: jax.Array,
    num_samples: int,
    max_length: int | None = None,
    temperature: float = 1.0,
    use_cache: bool = True,
) -> Int[Array, "num_samples max_length"]:
    """:func:`sample` for a GPT, one position per step against a key/value cache.

    ``model`` is a :class:`~jaxdl.nn.char_lm.CharGPT` (or its
    :class:`~jaxdl.nn.decoder.GPT`). Every row starts from the start token ``'.'`` at
    position 0; step ``t`` feeds the previous character at position ``t`` through
    :meth:`~jaxdl.nn.decoder.GPT.decode` and draws from its logits with :func:`sample`'s
    keys, so the rows equal :func:`sample`'s for the same ``key`` whenever no word
    outgrows the window. ``use_cache=False`` recomputes the whole prefix every step (one
    forward over a ``(num_samples, max_length - 1)`` buffer, causal), the reference the
    cache must equal.

    Args:
      max_length: characters per row, the closing ``'.'`` included; at most
        ``n_positions + 1`` (default).

    Returns:
      ``(num_samples, max_length)`` character ids, each row ending with ``'.'``.

    Raises:
      ValueError: ``max_length`` exceeds the position table, or a size or
        ``temperature`` is not positive.

    Example:
      >>> import jax
      >>> from flax import nnx
      >>> from jaxdl.nn.char_lm import CharGPT
      >>> gpt = CharGPT(block_size=8, n_embd=16, n_layer=1, n_head=2, rngs=nnx.Rngs(0))
      >>> sample_cached(gpt, key=jax.random.key(1), num_samples=4).shape
      (4, 9)
    """
    gpt = getattr(model, "gpt", model)
    limit = gpt.config.n_positions + 1
    max_length = limit if max_length is None else max_length
    if max_length > limit:
        raise ValueError(
            f"max_length is {max_length}, expected at most {limit} (n_positions + 1: a longer "
            "word would run past the position table)."
        )
    if num_samples < 1 or max_length < 1:
        raise ValueError(
            f"num_samples is {num_samples} and max_length {max_length}, expected both >= 1."
        )
    if not temperature > 0:
        raise ValueError(f"temperature is {temperature}, expected > 0.")
    graphdef, state = nnx.split(gpt)
    args = (graphdef, state, key, num_samples, max_length, float(temperature))
    return (_sample_cached if use_cache else _sample_full)(*args)


def _draw(keys, t, logits, done, temperature):
    step_keys = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
    ix = jax.vmap(jax.random.categorical)(step_keys, logits / temperature).astype(jnp.int32)
    ix = jnp.where(done, END, ix)
    return ix, done | (ix == END)


def _finish(ids):
    # The last column is always the closing '.', as in sample().
    return jnp.concatenate([ids.T, jnp.full((ids.shape[1], 1), END, jnp.int32)], axis=1)


@partial(jax.jit, static_argnums=(0, 3, 4))
def _sample_cached(graphdef, state, key, num_samples, max_length, temperature):
    gpt = nnx.merge(graphdef, state, copy=True)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_samples))

    def body(carry, t):
        prev, done, cache = carry
        logits, cache = gpt.decode(prev, t, cache)
        ix, done = _draw(keys, t, logits, done, temperature)
        return (ix, done, cache), ix

    init = (jnp.full((num_samples,), END, jnp.int32), jnp.zeros((num_samples,), bool))
    _, ids = jax.lax.scan(body, (*init, gpt.init_cache(num_samples)), jnp.arange(max_length - 1))
    return _finish(ids)


@partial(jax.jit, static_argnums=(0, 3, 4))
def _sample_full(graphdef, state, key, num_samples, max_length, temperature):
    gpt = nnx.merge(graphdef, state, copy=True)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_samples))
    steps = max_length - 1

    def body(carry, t):
        buffer, done = carry  # buffer[:, :t+1] holds the start token and t characters
        logits = jax.lax.dynamic_index_in_dim(gpt(buffer), t, axis=1, keepdims=False)
        ix, done = _draw(keys, t, logits, done, temperature)
        buffer = jax.lax.dynamic_update_slice_in_dim(buffer, ix[:, None], t + 1, axis=1)
        return (buffer, done), ix

    # Position `steps` is never read, so the buffer stops before it (the position table
    # may be one shorter than max_length); the last step's write is clamped onto a read
    # position, which is not read again.
    buffer = jnp.full((num_samples, max(steps, 1)), END, jnp.int32)
    init = (buffer, jnp.zeros((num_samples,), bool))
    _, ids = jax.lax.scan(body, init, jnp.arange(steps))
    return _finish(ids)
