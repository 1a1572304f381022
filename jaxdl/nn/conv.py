"""``nnx.Conv`` with the scan-friendly convolution of :mod:`jaxdl.ops.conv`.

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> conv = Conv(3, 8, (3, 3), impl="auto", rngs=nnx.Rngs(0))
  >>> conv(jnp.ones((2, 16, 16, 3))).shape
  (2, 16, 16, 8)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from flax import nnx

from jaxdl.ops.conv import CONV_IMPLS, check_conv_impl, conv_general_dilated

__all__ = ["Conv"]

# One function object per choice: the function is a static field of the module, so two
# layers built with the same ``impl`` have equal graph definitions (and share jit caches).
_CONV_FNS = {impl: functools.partial(conv_general_dilated, impl=impl) for impl in CONV_IMPLS}


class Conv(nnx.Conv):
    """:class:`flax.nnx.Conv` whose convolution is :func:`jaxdl.ops.conv_general_dilated`.

    Takes the constructor arguments of ``nnx.Conv`` except ``conv_general_dilated``;
    parameters are created in the same order, so the same ``rngs`` give the same kernel and
    bias as ``nnx.Conv``. Inputs are ``(*batch, H, W, C)``; the fast path applies to 2-D
    kernels, other ranks use lax.

    Args:
      in_features, out_features, kernel_size, strides: as ``nnx.Conv``.
      impl: which convolution the layer runs, fixed when it is built: ``"auto"`` (the fast
        path on CPU, XLA's convolution on GPU/TPU, where its weight gradient is fast),
        ``"fast"`` (the fast path wherever it applies) or ``"xla"``
        (:func:`jax.lax.conv_general_dilated`; also what forward-mode autodiff needs).
      **kwargs: the other keyword arguments of ``nnx.Conv`` (``rngs``, ``padding``, ...).

    Raises:
      ValueError: ``impl`` is not one of ``"auto"``, ``"fast"``, ``"xla"``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int | Sequence[int],
        strides: None | int | Sequence[int] = 1,
        *,
        impl: str = "auto",
        **kwargs: Any,
    ):
        impl = check_conv_impl(impl, name="impl")
        super().__init__(
            in_features,
            out_features,
            kernel_size,
            strides,
            conv_general_dilated=_CONV_FNS[impl],
            **kwargs,
        )
        self.impl = impl
