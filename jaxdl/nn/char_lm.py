"""Character-level language models of seed 002: Bengio's MLP, a WaveNet-style MLP and a
character GPT (:class:`CharGPT`, a :class:`~jaxdl.nn.decoder.GPT` over the window).

All map ``(B, block_size)`` integer contexts to ``(B, vocab_size)`` next-character
logits, and take the keyword arguments ``train`` and ``key`` like every jaxdl model.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Bool, Float, Int

from jaxdl._checks import check_rank
from jaxdl.nn.decoder import GPT, GPTConfig

INITS = ("seed", "scaled")


def _normal(rngs: nnx.Rngs, shape: tuple[int, ...], scale: float = 1.0) -> nnx.Param:
    return nnx.Param(scale * jax.random.normal(rngs.params(), shape))


def _check_context(idx: jax.Array, block_size: int) -> None:
    check_rank("idx", idx, rank=2)
    if idx.shape[1] != block_size:
        raise ValueError(f"idx has shape {idx.shape}, expected (batch, {block_size}).")
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise ValueError(f"idx has dtype {idx.dtype}, expected integer character ids.")


class MLPLanguageModel(nnx.Module):
    """Bengio et al. (2003): embed ``block_size`` characters, concatenate, tanh, softmax.

    ``logits = tanh(concat(C[idx]) @ W1 + b1) @ W2 + b2``.

    ``init="seed"`` draws every parameter from N(0, 1), as the seed notebook does (the
    PyTorch baseline and its losses use it). ``init="scaled"`` scales ``W1`` by
    ``(5/3) / sqrt(fan_in)`` (tanh's Kaiming gain) and starts the output layer near zero,
    so the first loss is about ``log(vocab_size)`` instead of about 20.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> model = MLPLanguageModel(block_size=3, rngs=nnx.Rngs(0))
      >>> model(jnp.zeros((5, 3), jnp.int32)).shape
      (5, 27)
    """

    def __init__(
        self,
        vocab_size: int = 27,
        block_size: int = 3,
        n_embd: int = 10,
        n_hidden: int = 200,
        *,
        init: str = "seed",
        rngs: nnx.Rngs,
    ):
        if init not in INITS:
            raise ValueError(f"init is {init!r}, expected one of {INITS}.")
        if block_size < 1:
            raise ValueError(f"block_size is {block_size}, expected >= 1.")
        self.block_size = block_size
        fan_in = block_size * n_embd
        scaled = init == "scaled"
        self.C = _normal(rngs, (vocab_size, n_embd))
        self.W1 = _normal(rngs, (fan_in, n_hidden), (5 / 3) / math.sqrt(fan_in) if scaled else 1.0)
        self.b1 = _normal(rngs, (n_hidden,), 0.01 if scaled else 1.0)
        self.W2 = _normal(rngs, (n_hidden, vocab_size), 0.01 if scaled else 1.0)
        self.b2 = _normal(rngs, (vocab_size,), 0.0 if scaled else 1.0)

    def __call__(
        self, idx: Int[Array, "batch block"], *, train: bool = False, key: jax.Array | None = None
    ) -> Float[Array, "batch vocab"]:
        del train, key  # no dropout or batch statistics
        _check_context(idx, self.block_size)
        emb = self.C[idx].reshape(idx.shape[0], -1)  # (B, block * n_embd)
        h = jnp.tanh(emb @ self.W1 + self.b1)  # (B, n_hidden)
        return h @ self.W2 + self.b2


class WaveNetLanguageModel(nnx.Module):
    """A hierarchical MLP (van den Oord et al. 2016's dilated tree, as a plain MLP).

    Consecutive pairs of positions are concatenated and mixed, level by level:
    ``block_size = 2**levels`` characters become ``block_size / 2`` pairs, then
    ``block_size / 4`` quadruples, ... Each level is ``Linear (no bias) -> BatchNorm ->
    tanh``; BatchNorm normalises over the batch and the positions. The output layer starts
    at a tenth of its fan-in scale, so the first loss is close to ``log(vocab_size)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> model = WaveNetLanguageModel(block_size=8, n_embd=4, n_hidden=8, rngs=nnx.Rngs(0))
      >>> model(jnp.zeros((5, 8), jnp.int32)).shape
      (5, 27)
    """

    def __init__(
        self,
        vocab_size: int = 27,
        block_size: int = 8,
        n_embd: int = 24,
        n_hidden: int = 128,
        *,
        rngs: nnx.Rngs,
    ):
        levels = int(round(math.log2(block_size))) if block_size >= 2 else 0
        if levels < 1 or 2**levels != block_size:
            raise ValueError(f"block_size is {block_size}, expected a power of two >= 2.")
        self.block_size = block_size
        self.C = _normal(rngs, (vocab_size, n_embd))
        widths = [n_embd] + [n_hidden] * levels
        self.weights = nnx.List(
            [
                _normal(rngs, (2 * a, b), 1 / math.sqrt(2 * a))
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
        )
        # Flax momentum 0.9 == PyTorch's BatchNorm momentum 0.1.
        self.norms = nnx.List(
            [nnx.BatchNorm(n_hidden, momentum=0.9, epsilon=1e-5, rngs=rngs) for _ in range(levels)]
        )
        self.W_out = _normal(rngs, (n_hidden, vocab_size), 0.1 / math.sqrt(n_hidden))
        self.b_out = nnx.Param(jnp.zeros((vocab_size,)))

    def __call__(
        self, idx: Int[Array, "batch block"], *, train: bool = False, key: jax.Array | None = None
    ) -> Float[Array, "batch vocab"]:
        del key  # no dropout
        _check_context(idx, self.block_size)
        x = self.C[idx]  # (B, T, n_embd)
        for w, norm in zip(self.weights, self.norms, strict=True):
            b, t, d = x.shape
            x = x.reshape(b, t // 2, 2 * d) @ w  # (B, T/2, n_hidden)
            x = jnp.tanh(norm(x, use_running_average=not train))
        return x[:, 0, :] @ self.W_out + self.b_out


def left_aligned(
    idx: Int[Array, "batch block"],
) -> tuple[Int[Array, "batch block"], Bool[Array, "batch block"]]:
    """Positions and valid keys that make a left-padded window look like its word alone.

    A window ``"....em"`` is the word's start token (its last leading dot) and prefix
    after padding: the start token gets position 0, the prefix 1, 2, ..., and the dots
    before it are masked out. A window with no leading dot (a word longer than the
    window) keeps positions ``0..block-1``. So the GPT sees the same sequence whatever
    the padding, and its cached sampler (positions from 0) computes the same logits.
    """
    lead = jnp.cumprod(idx == 0, axis=1).sum(axis=1, keepdims=True)  # (B, 1) leading dots
    start = jnp.maximum(lead - 1, 0)
    t = jnp.arange(idx.shape[1])[None, :]
    return jnp.maximum(t - start, 0), t >= start


class CharGPT(nnx.Module):
    """A character GPT for makemore windows: ``(B, block_size)`` ids to the next
    character's ``(B, vocab)`` logits, from the window's last position.

    Positions are :func:`left_aligned`, so the position table has ``block_size`` rows
    and a word of up to ``block_size - 1`` characters is read whole. ``head_dim=0`` gives
    narrow heads (``n_embd / n_head`` each), ``head_dim=n_embd`` wide ones.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> model = CharGPT(block_size=8, n_embd=16, n_layer=1, n_head=2, rngs=nnx.Rngs(0))
      >>> model(jnp.zeros((5, 8), jnp.int32)).shape
      (5, 27)
    """

    def __init__(
        self,
        vocab_size: int = 27,
        block_size: int = 16,
        n_embd: int = 64,
        n_hidden: int = 256,
        *,
        n_layer: int = 4,
        n_head: int = 4,
        head_dim: int = 0,
        dropout: float = 0.0,
        rngs: nnx.Rngs,
    ):
        self.block_size = block_size
        config = GPTConfig(
            vocab_size=vocab_size,
            n_positions=block_size,
            n_embd=n_embd,
            n_layer=n_layer,
            n_head=n_head,
            head_dim=head_dim,
            n_inner=n_hidden,
            dropout=dropout,
        )
        self.gpt = GPT(config, rngs=rngs)

    def sequence_logits(
        self, idx: Int[Array, "batch block"], *, train: bool = False, key: jax.Array | None = None
    ) -> Float[Array, "batch block vocab"]:
        """Next-character logits at every position of the window (padding rows: garbage)."""
        _check_context(idx, self.block_size)
        positions, valid = left_aligned(idx)
        return self.gpt(idx, positions=positions, valid=valid, train=train, key=key)

    def __call__(
        self, idx: Int[Array, "batch block"], *, train: bool = False, key: jax.Array | None = None
    ) -> Float[Array, "batch vocab"]:
        _check_context(idx, self.block_size)
        positions, valid = left_aligned(idx)
        h = self.gpt.hidden(idx, positions=positions, valid=valid, train=train, key=key)
        return self.gpt.logits(h[:, -1])


def build_char_lm(
    kind: str,
    *,
    vocab_size: int = 27,
    block_size: int,
    n_embd: int,
    n_hidden: int,
    init: str = "seed",
    n_layer: int = 4,
    n_head: int = 4,
    head_dim: int = 0,
    dropout: float = 0.0,
    rngs: nnx.Rngs,
) -> nnx.Module:
    """``"mlp"`` -> :class:`MLPLanguageModel`, ``"wavenet"`` -> :class:`WaveNetLanguageModel`,
    ``"transformer"`` -> :class:`CharGPT` (``n_hidden`` its MLP width; ``init`` unused)."""
    if kind == "mlp":
        return MLPLanguageModel(vocab_size, block_size, n_embd, n_hidden, init=init, rngs=rngs)
    if kind == "wavenet":
        return WaveNetLanguageModel(vocab_size, block_size, n_embd, n_hidden, rngs=rngs)
    if kind == "transformer":
        return CharGPT(
            vocab_size,
            block_size,
            n_embd,
            n_hidden,
            n_layer=n_layer,
            n_head=n_head,
            head_dim=head_dim,
            dropout=dropout,
            rngs=rngs,
        )
    raise ValueError(f"kind is {kind!r}, expected 'mlp', 'wavenet' or 'transformer'.")
