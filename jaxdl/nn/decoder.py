"""A causal (decoder-only) transformer in GPT-2's layout, with a key/value cache.

Pre-LN blocks as in Radford et al. (2019): ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``;
the attention projects queries, keys and values with one fused ``c_attn`` and mixes the
heads back with ``c_proj``; the MLP is ``c_proj(gelu_tanh(c_fc(x)))``; learned token and
position embeddings; a final ``ln_f``; the LM head is the token embedding transposed
(tied, as GPT-2). Module names follow Hugging Face's ``GPT2LMHeadModel`` so its weights
load by name (:func:`jaxdl.pretrained.gpt2_from_torch`).

Heads are *narrow* by default (``head_dim = n_embd / n_head``, GPT-2, the seed's
"split the embedding over the heads") or *wide* (``head_dim = n_embd``: every head sees
the whole embedding, h times the attention parameters and compute).

:meth:`GPT.decode` runs one position for a whole batch against a preallocated cache
(:meth:`GPT.init_cache`), so generation costs O(T) per token instead of recomputing
the O(T^2) prefix.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Bool, Float, Int

from jaxdl._checks import check_rank
from jaxdl.nn._dropout import Dropout, split_key
from jaxdl.nn.transformer import LayerNorm

# GPT-2's initialisation: N(0, 0.02) weights, zero biases; residual projections are
# further scaled by 1/sqrt(2 * n_layer) so the residual stream's variance stays put.
_STD = 0.02

# One layer's cache: keys and values, each (B, H, n_positions, head_dim).
Cache = list[tuple[jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """Sizes of a :class:`GPT`; the names are those of ``transformers.GPT2Config``.

    ``head_dim=0`` means ``n_embd // n_head`` (narrow heads, GPT-2); ``n_inner=0`` means
    ``4 * n_embd``. ``dropout`` is GPT-2's ``embd_pdrop`` and ``resid_pdrop`` (on the
    embeddings and on each block's two branches; the attention weights are not dropped),
    active only with ``train=True``.

    Raises:
      ValueError: a size is not positive, or narrow heads do not divide ``n_embd``.
    """

    vocab_size: int = 27
    n_positions: int = 16
    n_embd: int = 64
    n_layer: int = 4
    n_head: int = 4
    head_dim: int = 0
    n_inner: int = 0
    layer_norm_epsilon: float = 1e-5
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} is {getattr(self, name)}, expected >= 1.")
        if self.head_dim == 0 and self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd is {self.n_embd} with n_head {self.n_head}, expected a multiple of "
                "n_head for narrow heads (or set head_dim)."
            )

    @property
    def d_head(self) -> int:
        return self.head_dim or self.n_embd // self.n_head

    @property
    def d_inner(self) -> int:
        return self.n_inner or 4 * self.n_embd


def _linear(a: int, b: int, rngs: nnx.Rngs, std: float = _STD) -> nnx.Linear:
    return nnx.Linear(a, b, kernel_init=nnx.initializers.normal(std), rngs=rngs)


def causal_mask(valid: Bool[Array, "batch seq"] | None, seq: int) -> Bool[Array, "batch 1 seq seq"]:
    """``mask[b, 0, i, j]``: query ``i`` may read key ``j`` (``j <= i`` and ``valid[b, j]``)."""
    keep = jnp.tril(jnp.ones((seq, seq), bool))[None, None]
    return keep if valid is None else keep & valid[:, None, None, :]


def _attend(q, k, v, keep):
    """Softmax attention over the last key axis; ``q`` already scaled."""
    scores = q @ k.swapaxes(-1, -2)  # (B, H, Tq, Tk)
    # The lowest finite score, not -inf (as transformers): a query with no readable key
    # (a padding position) stays finite instead of becoming NaN.
    scores = jnp.where(keep, scores, jnp.finfo(scores.dtype).min)
    return jax.nn.softmax(scores, axis=-1) @ v  # (B, H, Tq, Dh)


class CausalSelfAttention(nnx.Module):
    """Multi-head causal self-attention: ``c_proj(softmax(q k^T / sqrt(d_head)) v)``."""

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        d, self.n_head, self.d_head = config.n_embd, config.n_head, config.d_head
        inner = self.n_head * self.d_head
        self.c_attn = _linear(d, 3 * inner, rngs)
        self.c_proj = _linear(inner, d, rngs, _STD / math.sqrt(2 * config.n_layer))

    def _qkv(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        b, t, _ = x.shape
        qkv = self.c_attn(x).reshape(b, t, 3, self.n_head, self.d_head)
        q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # (B, H, T, Dh)
        return q / math.sqrt(self.d_head), k, v

    def _merge(self, y: jax.Array) -> jax.Array:
        b, _, t, _ = y.shape
        return self.c_proj(y.transpose(0, 2, 1, 3).reshape(b, t, self.n_head * self.d_head))

    def __call__(
        self, x: Float[Array, "batch seq dim"], keep: Bool[Array, "batch 1 seq seq"]
    ) -> Float[Array, "batch seq dim"]:
        q, k, v = self._qkv(x)
        return self._merge(_attend(q, k, v, keep))

    def decode(
        self, x: Float[Array, "batch 1 dim"], cache: tuple[jax.Array, jax.Array], pos: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        """One position ``pos`` of every row: its key and value go into the cache, its
        query reads keys ``0..pos``."""
        q, k, v = self._qkv(x)
        k_cache = jax.lax.dynamic_update_slice_in_dim(cache[0], k, pos, axis=2)
        v_cache = jax.lax.dynamic_update_slice_in_dim(cache[1], v, pos, axis=2)
        keep = (jnp.arange(k_cache.shape[2]) <= pos)[None, None, None, :]
        return self._merge(_attend(q, k_cache, v_cache, keep)), (k_cache, v_cache)


class MLP(nnx.Module):
    """``c_proj(gelu_tanh(c_fc(x)))``: GPT-2's ``gelu_new`` is the tanh approximation."""

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        self.c_fc = _linear(config.n_embd, config.d_inner, rngs)
        self.c_proj = _linear(
            config.d_inner, config.n_embd, rngs, _STD / math.sqrt(2 * config.n_layer)
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.c_proj(jax.nn.gelu(self.c_fc(x), approximate=True))


class DecoderBlock(nnx.Module):
    """A pre-LN GPT-2 block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        eps = config.layer_norm_epsilon
        self.ln_1 = LayerNorm(config.n_embd, eps=eps)
        self.attn = CausalSelfAttention(config, rngs=rngs)
        self.ln_2 = LayerNorm(config.n_embd, eps=eps)
        self.mlp = MLP(config, rngs=rngs)
        self.dropout = Dropout(config.dropout)

    def __call__(
        self, x: jax.Array, keep: jax.Array, *, train: bool = False, key: jax.Array | None = None
    ) -> jax.Array:
        k_attn, k_mlp = split_key(key, 2)
        x = x + self.dropout(self.attn(self.ln_1(x), keep), train=train, key=k_attn)
        return x + self.dropout(self.mlp(self.ln_2(x)), train=train, key=k_mlp)

    def decode(self, x, cache, pos):
        h, cache = self.attn.decode(self.ln_1(x), cache, pos)
        x = x + h
        return x + self.mlp(self.ln_2(x)), cache


class GPT(nnx.Module):
    """GPT-2: token + position embeddings, :class:`DecoderBlock` s, ``ln_f``, tied LM head.

    Args (of ``__call__``):
      ids: ``(B, T)`` token ids, ``T <= n_positions``.
      positions: ``(B, T)`` position ids (default ``0..T-1`` for every row).
      valid: ``(B, T)`` booleans; keys where it is False are never read (left padding).

    Returns:
      ``(B, T, vocab_size)`` next-token logits at every position.

    Raises:
      ValueError: ``ids`` is not ``(batch, seq)`` integers or is longer than the position
        table.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> gpt = GPT(GPTConfig(n_positions=8, n_embd=16, n_layer=1, n_head=2), rngs=nnx.Rngs(0))
      >>> gpt(jnp.zeros((3, 5), jnp.int32)).shape
      (3, 5, 27)
    """

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        self.config = config
        init = nnx.initializers.normal(_STD)
        self.wte = nnx.Embed(config.vocab_size, config.n_embd, embedding_init=init, rngs=rngs)
        self.wpe = nnx.Embed(config.n_positions, config.n_embd, embedding_init=init, rngs=rngs)
        self.h = nnx.List([DecoderBlock(config, rngs=rngs) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.dropout = Dropout(config.dropout)

    def _check(self, ids: jax.Array) -> None:
        check_rank("ids", ids, rank=2)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise ValueError(f"ids has dtype {ids.dtype}, expected integer token ids.")
        if ids.shape[1] > self.config.n_positions:
            raise ValueError(
                f"ids has {ids.shape[1]} positions, expected at most n_positions="
                f"{self.config.n_positions} (the length of the position table)."
            )

    def hidden(
        self,
        ids: Int[Array, "batch seq"],
        *,
        positions: Int[Array, "batch seq"] | None = None,
        valid: Bool[Array, "batch seq"] | None = None,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch seq dim"]:
        """The output of ``ln_f`` (what the tied head multiplies)."""
        self._check(ids)
        t = ids.shape[1]
        if positions is None:
            positions = jnp.arange(t)[None, :]
        k_embd, *keys = split_key(key, 1 + len(self.h))
        x = self.dropout(self.wte(ids) + self.wpe(positions), train=train, key=k_embd)
        keep = causal_mask(valid, t)
        for block, k in zip(self.h, keys, strict=True):
            x = block(x, keep, train=train, key=k)
        return self.ln_f(x)

    def logits(self, h: jax.Array) -> jax.Array:
        """The tied LM head: ``h @ wte^T``."""
        return h @ self.wte.embedding[...].T

    def __call__(
        self,
        ids: Int[Array, "batch seq"],
        *,
        positions: Int[Array, "batch seq"] | None = None,
        valid: Bool[Array, "batch seq"] | None = None,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch seq vocab"]:
        h = self.hidden(ids, positions=positions, valid=valid, train=train, key=key)
        return self.logits(h)

    def init_cache(self, batch: int) -> Cache:
        """Zeroed keys and values of every layer, ``(batch, n_head, n_positions, head_dim)``."""
        c = self.config
        shape = (batch, c.n_head, c.n_positions, c.d_head)
        return [(jnp.zeros(shape), jnp.zeros(shape)) for _ in range(c.n_layer)]

    def decode(
        self, ids: Int[Array, " batch"], pos: jax.Array, cache: Cache
    ) -> tuple[Float[Array, "batch vocab"], Cache]:
        """Logits after token ``ids`` at position ``pos`` (a scalar, every row), reading
        positions ``0..pos-1`` from ``cache``; returns them and the updated cache.

        Equals ``self(prefix)[:, pos]`` where ``prefix`` holds the tokens given so far.
        """
        x = (self.wte(ids) + self.wpe(pos))[:, None, :]  # (B, 1, D)
        new = []
        for block, layer_cache in zip(self.h, cache, strict=True):
            x, layer_cache = block.decode(x, layer_cache, pos)
            new.append(layer_cache)
        return self.logits(self.ln_f(x[:, 0])), new
