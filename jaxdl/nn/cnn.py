"""A small convolutional image classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
from flax import nnx
from jaxtyping import Array, Float

from jaxdl._checks import check_rank
from jaxdl.nn._dropout import Dropout, split_key
from jaxdl.nn.conv import Conv
from jaxdl.nn.norm import Norm
from jaxdl.nn.pooling import max_pool
from jaxdl.ops.conv import check_conv_impl


class ConvBlock(nnx.Module):
    """``Conv 3x3 -> norm -> ReLU`` repeated ``depth`` times, then 2x2 max-pool.

    ``norm`` is one of :data:`jaxdl.nn.norm.NORMS` (batch norm by default); ``conv_impl``
    is the convolutions' ``impl`` (see :class:`jaxdl.nn.Conv`).

    Raises:
      ValueError: ``norm`` or ``conv_impl`` is not a known name.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        depth: int = 1,
        dtype: Any = None,
        norm: str = "batch",
        norm_groups: int = 8,
        conv_impl: str = "auto",
        rngs: nnx.Rngs,
    ):
        conv_impl = check_conv_impl(conv_impl, name="conv_impl")
        chans = [in_channels] + [out_channels] * depth
        # A conv bias is redundant in front of a norm's shift. Conv is nnx.Conv with a
        # weight gradient that stays fast inside lax.scan on CPU (see jaxdl.ops.conv).
        self.convs = nnx.List(
            [
                Conv(a, b, (3, 3), use_bias=norm == "none", dtype=dtype, impl=conv_impl, rngs=rngs)
                for a, b in zip(chans[:-1], chans[1:], strict=True)
            ]
        )
        self.norms = nnx.List(
            [
                Norm(norm, out_channels, groups=norm_groups, dtype=dtype, rngs=rngs)
                for _ in range(depth)
            ]
        )

    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = jax.nn.relu(norm(conv(x), train=train))
        return max_pool(x, (2, 2))


class CNNClassifier(nnx.Module):
    """Conv blocks with a norm (BatchNorm by default), ReLU and pooling, then dropout and
    linear layers.

    Input is NHWC, e.g. ``(B, 28, 28, 1)`` for Fashion-MNIST. ``norm`` is ``"batch"``,
    ``"layer"``, ``"instance"``, ``"group"`` (``norm_groups`` channel groups) or ``"none"``;
    see :mod:`jaxdl.nn.norm` for what each is invariant to. ``conv_impl`` fixes which
    convolution the layers run (``"auto"``, ``"fast"`` or ``"xla"``; see
    :class:`jaxdl.nn.Conv`).

    Raises:
      ValueError: ``norm`` or ``conv_impl`` is not a known name, or ``input_shape`` does not
        survive the pooling stages.

    Example:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> model = CNNClassifier(channels=(8, 16), hidden=(32,), rngs=nnx.Rngs(0))
      >>> model(jnp.ones((2, 28, 28, 1))).shape
      (2, 10)
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28, 1),
        channels: Sequence[int] = (32, 64),
        hidden: Sequence[int] = (128,),
        num_classes: int = 10,
        *,
        block_depth: int = 1,
        dropout: float = 0.3,
        dtype: Any = None,
        norm: str = "batch",
        norm_groups: int = 8,
        conv_impl: str = "auto",
        rngs: nnx.Rngs,
    ):
        # dtype is the compute dtype (bfloat16 for mixed precision); the parameters and
        # BatchNorm statistics stay float32 (see jaxdl.parallel.precision).
        self.input_shape = tuple(input_shape)
        height, width, in_channels = self.input_shape
        chans = [in_channels, *channels]
        shared = dict(depth=block_depth, norm=norm, norm_groups=norm_groups, conv_impl=conv_impl)
        self.blocks = nnx.List(
            [
                ConvBlock(a, b, **shared, dtype=dtype, rngs=rngs)
                for a, b in zip(chans[:-1], chans[1:], strict=True)
            ]
        )
        scale = 2 ** len(channels)
        if height % scale or width % scale:
            raise ValueError(
                f"input_shape is {self.input_shape}, expected height and width divisible by "
                f"{scale} for {len(channels)} pooling stages."
            )
        widths = [(height // scale) * (width // scale) * chans[-1], *hidden]
        self.dropout = Dropout(dropout)
        self.fcs = nnx.List(
            [
                nnx.Linear(a, b, dtype=dtype, rngs=rngs)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
        )
        self.head = nnx.Linear(widths[-1], num_classes, dtype=dtype, rngs=rngs)

    def __call__(
        self,
        x: Float[Array, "batch height width channels"],
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch classes"]:
        return self.head(self.features(x, train=train, key=key))

    def features(
        self,
        x: Float[Array, "batch height width channels"],
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch hidden"]:
        """The last hidden layer's activations (the input of the head), e.g. for a
        Fréchet distance in this classifier's feature space."""
        check_rank("x", x, rank=4)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"x has shape {x.shape}, expected (batch, {self.input_shape}).")
        for block in self.blocks:
            x = block(x, train=train)
        keys = split_key(key, len(self.fcs) + 1)
        x = self.dropout(x.reshape(x.shape[0], -1), train=train, key=keys[0])
        for fc, k in zip(self.fcs, keys[1:], strict=True):
            x = self.dropout(jax.nn.relu(fc(x)), train=train, key=k)
        return x
