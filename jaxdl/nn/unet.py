"""A small UNet that predicts noise for 28x28 images (DDPM-style, Ho et al. 2020).

Residual blocks with GroupNorm and SiLU, a sinusoidal time embedding added inside every
block, optional self-attention at the lowest resolution, and an optional class
embedding whose extra index ``num_classes`` means "no class" (for classifier-free
guidance). NHWC throughout; convolutions use :class:`jaxdl.nn.conv.Conv`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from jaxdl._checks import check_rank
from jaxdl.nn._dropout import Dropout, split_key
from jaxdl.nn.conv import Conv
from jaxdl.nn.norm import GroupNorm
from jaxdl.parallel.remat import Policy, check_policy, remat_call


def timestep_embedding(t: Int[Array, " batch"], dim: int, max_period: float = 10_000.0):
    """Sinusoidal embedding of integer timesteps, ``(B,) -> (B, dim)`` (Vaswani et al.)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half) / half)
    args = t.astype(jnp.float32)[:, None] * freqs[None]
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


def _groups(channels: int, preferred: int = 8) -> int:
    return math.gcd(channels, preferred)


class ResBlock(nnx.Module):
    """``GN -> SiLU -> conv -> + time -> GN -> SiLU -> dropout -> conv``, plus a skip."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        t_dim: int,
        dropout: float,
        *,
        dtype: Any = None,
        rngs: nnx.Rngs,
    ):
        kw = {"dtype": dtype, "rngs": rngs}
        self.norm1 = GroupNorm(c_in, num_groups=_groups(c_in), **kw)
        self.conv1 = Conv(c_in, c_out, (3, 3), **kw)
        self.time = nnx.Linear(t_dim, c_out, **kw)
        self.norm2 = GroupNorm(c_out, num_groups=_groups(c_out), **kw)
        self.dropout = Dropout(dropout)
        # Zero-initialised last conv: every block starts as the identity.
        self.conv2 = Conv(c_out, c_out, (3, 3), kernel_init=nnx.initializers.zeros, **kw)
        self.skip = Conv(c_in, c_out, (1, 1), **kw) if c_in != c_out else None

    def __call__(self, x, temb, *, train: bool, key: jax.Array | None):
        h = self.conv1(jax.nn.silu(self.norm1(x)))
        h = h + self.time(jax.nn.silu(temb))[:, None, None, :]
        h = self.dropout(jax.nn.silu(self.norm2(h)), train=train, key=key)
        h = self.conv2(h)
        return h + (self.skip(x) if self.skip is not None else x)


class SelfAttention(nnx.Module):
    """Multi-head self-attention over the pixels of a (small) feature map, residual."""

    def __init__(self, channels: int, num_heads: int = 4, *, dtype: Any = None, rngs: nnx.Rngs):
        self.norm = GroupNorm(channels, num_groups=_groups(channels), dtype=dtype, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(
            num_heads=num_heads, in_features=channels, decode=False, dtype=dtype, rngs=rngs
        )

    def __call__(self, x):
        b, h, w, c = x.shape
        y = self.norm(x).reshape(b, h * w, c)
        return x + self.attn(y).reshape(b, h, w, c)


class UNet(nnx.Module):
    """Predicts the noise in ``x_t`` given ``t`` (and optionally a class label).

    Args:
      image_shape: ``(H, W, C)``; H and W divisible by ``2 ** (len(channels) - 1)``.
      channels: feature channels per resolution, e.g. ``(32, 64, 128)`` for 28, 14, 7.
      attention: add self-attention at the lowest resolution.
      num_classes: 0 for an unconditional model; else labels in ``[0, num_classes]``
        where ``num_classes`` is the null label of classifier-free guidance.
      dtype: compute dtype (e.g. bfloat16); parameters stay float32 and the output has
        the input's dtype (see :mod:`jaxdl.parallel.precision`).
      remat: activation checkpointing of each residual block: None (off) or a
        ``jax.checkpoint`` policy, e.g. ``jaxdl.parallel.remat_policy("nothing")`` (see
        :mod:`jaxdl.parallel.remat`).

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> net = UNet(channels=(8, 16), num_classes=10, rngs=nnx.Rngs(0))
      >>> net(jnp.zeros((2, 28, 28, 1)), jnp.array([0, 999]), jnp.array([3, 10])).shape
      (2, 28, 28, 1)
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (28, 28, 1),
        channels: Sequence[int] = (32, 64, 128),
        *,
        attention: bool = True,
        num_classes: int = 0,
        dropout: float = 0.1,
        dtype: Any = None,
        remat: Policy | None = None,
        rngs: nnx.Rngs,
    ):
        self.image_shape = tuple(image_shape)
        self.remat = check_policy(remat, name="remat")
        kw = {"dtype": dtype, "rngs": rngs}
        h, w, c_img = self.image_shape
        scale = 2 ** (len(channels) - 1)
        if h % scale or w % scale:
            raise ValueError(
                f"image_shape is {self.image_shape}, expected height and width divisible by "
                f"{scale} for {len(channels)} resolutions."
            )
        self.num_classes = num_classes
        self.t_dim = 4 * channels[0]
        self.t_in = nnx.Linear(channels[0], self.t_dim, **kw)
        self.t_out = nnx.Linear(self.t_dim, self.t_dim, **kw)
        self.class_emb = nnx.Embed(num_classes + 1, self.t_dim, **kw) if num_classes else None
        self.conv_in = Conv(c_img, channels[0], (3, 3), **kw)
        td, p = self.t_dim, dropout
        self.down = nnx.List(
            [
                ResBlock(a, b, td, p, **kw)
                for a, b in zip([channels[0], *channels[:-1]], channels, strict=True)
            ]
        )
        self.downsample = nnx.List([Conv(c, c, (3, 3), strides=2, **kw) for c in channels[:-1]])
        self.mid1 = ResBlock(channels[-1], channels[-1], td, p, **kw)
        self.attn = SelfAttention(channels[-1], **kw) if attention else None
        self.mid2 = ResBlock(channels[-1], channels[-1], td, p, **kw)
        ups = list(reversed(channels))
        self.up = nnx.List(
            [
                ResBlock(2 * a, b, td, p, **kw)
                for a, b in zip(ups, [*ups[1:], channels[0]], strict=True)
            ]
        )
        self.upsample = nnx.List([Conv(c, c, (3, 3), **kw) for c in ups[1:]])
        self.norm_out = GroupNorm(channels[0], num_groups=_groups(channels[0]), **kw)
        self.conv_out = Conv(channels[0], c_img, (3, 3), kernel_init=nnx.initializers.zeros, **kw)

    def __call__(
        self,
        x: Float[Array, "batch height width channels"],
        t: Int[Array, " batch"],
        labels: Int[Array, " batch"] | None = None,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch height width channels"]:
        check_rank("x", x, rank=4)
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"x has shape {x.shape}, expected (batch, {self.image_shape}).")
        if t.shape != x.shape[:1]:
            raise ValueError(f"t has shape {t.shape}, expected ({x.shape[0]},).")
        temb = self.t_out(jax.nn.silu(self.t_in(timestep_embedding(t, self.t_in.in_features))))
        if self.class_emb is not None:
            if labels is None:
                labels = jnp.full(t.shape, self.num_classes)  # unconditional
            temb = temb + self.class_emb(labels)
        keys = iter(split_key(key, 2 * len(self.down) + 2))
        # Checkpointing per residual block. XLA's GPU/TPU schedulers honour it; its CPU
        # scheduler may hoist the recomputation and save little (jaxdl.parallel.remat).
        res = remat_call(self.remat, lambda blk, h, temb, k: blk(h, temb, train=train, key=k))
        h = self.conv_in(x)
        skips = []
        for i, block in enumerate(self.down):
            h = res(block, h, temb, next(keys))
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = res(self.mid1, h, temb, next(keys))
        if self.attn is not None:
            h = self.attn(h)
        h = res(self.mid2, h, temb, next(keys))
        for i, block in enumerate(self.up):
            h = res(block, jnp.concatenate([h, skips.pop()], -1), temb, next(keys))
            if i < len(self.upsample):
                b, hh, ww, c = h.shape
                h = self.upsample[i](jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest"))
        return self.conv_out(jax.nn.silu(self.norm_out(h))).astype(x.dtype)
