"""The detachment rules of Ali et al. (2022) for the transformer's nonlinearities, and the
LayerNorm and GELU that take them (see :mod:`jaxdl.nn.transformer`).

The detached forms compute the same values as the plain ones; only their gradients differ,
so that gradient x input through them is LRP relevance.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float


class Detach(NamedTuple):
    """Which nonlinearities get the detachment rules of Ali et al. (2022).

    - ``layer_norm``: ``(x - mean) / stop_gradient(std)``: the normalisation is a constant
      scale, so the centring (linear) carries all relevance.
    - ``attention``: ``stop_gradient(softmax(scores)) @ v``: attention weights act as a
      fixed mixing matrix; relevance flows through the values only.
    - ``gelu``: ``x * stop_gradient(Phi(x))``: GELU as a fixed gate on a linear path.

    Each switch changes gradients only; the forward values are the same.
    """

    layer_norm: bool = False
    attention: bool = False
    gelu: bool = False


NO_DETACH = Detach()
LRP = Detach(layer_norm=True, attention=True, gelu=True)


def gelu(x: jax.Array, *, detach: bool = False) -> jax.Array:
    """Exact GELU ``x * Phi(x)``; with ``detach`` the gate ``Phi(x)`` gets no gradient.

    ``gelu(x) / x`` is exactly ``Phi(x)``, so the detached form needs no ``+ 1e-6`` guard
    against division by zero as the seed's ``x * (gelu(x) / (x + 1e-6)).detach()`` did.
    """
    gate = 0.5 * (1.0 + jax.lax.erf(x / math.sqrt(2.0)))
    if detach:
        gate = jax.lax.stop_gradient(gate)
    return x * gate


class LayerNorm(nnx.Module):
    """LayerNorm over the last axis with the biased variance, as ``torch.nn.LayerNorm``.

    With ``detach=True`` the standard deviation is a constant for the gradient. It is the
    same statistic as the forward's (biased variance plus ``eps`` under the square root),
    unlike the seed's ``LayerNormXAI`` whose unbiased ``std + eps`` changed the output.
    """

    def __init__(self, dim: int, *, eps: float):
        self.dim, self.eps = dim, eps
        self.scale = nnx.Param(jnp.ones((dim,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((dim,), jnp.float32))

    def __call__(self, x: Float[Array, "*batch dim"], *, detach: bool = False) -> jax.Array:
        # Statistics in float32 whatever the compute dtype: bfloat16 means lose digits.
        dtype = x.dtype
        x = x.astype(jnp.promote_types(dtype, jnp.float32))
        centred = x - jnp.mean(x, axis=-1, keepdims=True)
        std = jnp.sqrt(jnp.mean(jnp.square(centred), axis=-1, keepdims=True) + self.eps)
        if detach:
            std = jax.lax.stop_gradient(std)
        return (centred / std * self.scale[...] + self.bias[...]).astype(dtype)
