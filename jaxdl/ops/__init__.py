"""Array operations below the layers: kernels with their own gradients.

:func:`conv_general_dilated` is :func:`jax.lax.conv_general_dilated` with a weight gradient
that stays fast inside ``lax.scan`` on CPU; :class:`jaxdl.nn.Conv` is the layer that uses it.
"""

from jaxdl.ops.conv import CONV_IMPLS, check_conv_impl, conv_general_dilated

__all__ = ["CONV_IMPLS", "check_conv_impl", "conv_general_dilated"]
