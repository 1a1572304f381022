"""Normalisation layers for NHWC feature maps behind one call signature.

Each normalises ``x`` by a mean and variance taken over a different set of axes, and that
set decides which transformations of the input the output forgets (its invariance):

==========  ==========================  ============================================
kind        statistics over             output unchanged when the input is ...
==========  ==========================  ============================================
batch       batch, H, W (per channel)   shifted/scaled per channel, the same for the
                                        whole batch (training mode only); in eval mode
                                        it is a fixed per-channel affine map
layer       H, W, C (per example)       shifted/scaled per example
instance    H, W (per example, chan.)   shifted/scaled per example and channel
group       H, W, channels of a group   shifted/scaled per example and channel group
none        --                          (nothing)
==========  ==========================  ============================================

Only batch norm mixes examples: in training mode one example's output depends on the other
members of its batch, and it keeps running statistics for evaluation. The others treat each
example on its own and behave the same in training and evaluation.

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> norm = Norm("instance", 4, rngs=nnx.Rngs(0))
  >>> x = jnp.arange(2 * 3 * 3 * 4, dtype=jnp.float32).reshape(2, 3, 3, 4)
  >>> bool(jnp.allclose(norm(x), norm(5 * x + 2), atol=1e-4))
  True
"""

from __future__ import annotations

import math
from typing import Any

import jax
from flax import nnx

NORMS = ("batch", "layer", "instance", "group", "none")


class Norm(nnx.Module):
    """``kind`` normalisation of ``(batch, H, W, channels)`` with a learned scale and shift.

    ``groups`` is the number of channel groups of group norm; it is reduced to
    ``gcd(groups, channels)`` so any channel count works (with 4 channels and ``groups=8``
    every group is one channel, i.e. instance norm). Batch norm uses momentum 0.9 (Flax's
    0.99 is for long runs; 0.9 matches PyTorch's 0.1).
    """

    def __init__(
        self, kind: str, channels: int, *, groups: int = 8, dtype: Any = None, rngs: nnx.Rngs
    ):
        if kind not in NORMS:
            raise ValueError(f"norm is {kind!r}, expected one of {', '.join(NORMS)}.")
        self.kind = kind
        if kind == "batch":
            self.layer = nnx.BatchNorm(channels, momentum=0.9, dtype=dtype, rngs=rngs)
        elif kind == "layer":
            self.layer = nnx.LayerNorm(
                channels, reduction_axes=(-3, -2, -1), dtype=dtype, rngs=rngs
            )
        elif kind in ("instance", "group"):
            num_groups = channels if kind == "instance" else math.gcd(groups, channels)
            self.layer = nnx.GroupNorm(channels, num_groups=num_groups, dtype=dtype, rngs=rngs)
        else:
            self.layer = None

    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        if self.kind == "batch":
            return self.layer(x, use_running_average=not train)
        if self.layer is None:
            return x
        return self.layer(x)
