"""The two sides of ``benchmarks.conv_layer``: its shapes, shared operands, the PyTorch
loop and the agreement check (the timing protocol and the record stay in ``conv_layer``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl.ops import conv_general_dilated

KERNEL = 3
FORWARD, BACKWARD = "forward", "forward+backward"
METRICS = (FORWARD, BACKWARD)
# Relative tolerance of the jaxdl-vs-torch agreement check (float32 sums of <= 288 terms).
RTOL = 1e-4
_DNUMS = ("NHWC", "HWIO", "NHWC")


@dataclasses.dataclass(frozen=True)
class Shape:
    """One convolution: input ``(batch, height, width, c_in)``, ``c_out`` 3x3 filters."""

    height: int
    width: int
    c_in: int
    c_out: int
    stride: int = 1
    # True for a layer of the default CNN: only those count in the headline.
    recipe: bool = True

    def label(self, batch: int) -> str:
        return (
            f"({batch}, {self.height}, {self.width}, {self.c_in}) -> {self.c_out}, "
            f"{KERNEL}x{KERNEL} SAME, stride {self.stride}"
        )

    def same_pads(self) -> tuple[tuple[int, int], ...]:
        """The (lo, hi) padding per spatial dimension that SAME means in JAX."""
        return tuple(
            lax.padtype_to_pads(
                (self.height, self.width), (KERNEL, KERNEL), (self.stride,) * 2, "SAME"
            )
        )


RECIPE_SHAPES = (Shape(28, 28, 1, 32), Shape(14, 14, 32, 64))
STRIDE2 = Shape(28, 28, 32, 64, stride=2, recipe=False)


def cases(batches: Sequence[int], stride2_batch: int) -> list[tuple[Shape, int]]:
    """``(shape, batch)`` pairs: every recipe shape at every batch, then the stride-2 one."""
    return [(s, b) for b in batches for s in RECIPE_SHAPES] + [(STRIDE2, stride2_batch)]


@dataclasses.dataclass
class Operands:
    """The same random numbers for both sides: NHWC/HWIO for JAX, NCHW/OIHW for torch."""

    x: np.ndarray  # (B, H, W, C)
    w: np.ndarray  # (3, 3, C, O)
    g: np.ndarray  # (B, Ho, Wo, O): the cotangent of the output

    @classmethod
    def random(cls, shape: Shape, batch: int, seed: int = 0) -> Operands:
        rng = np.random.default_rng(seed)
        out_hw = [-(-n // shape.stride) for n in (shape.height, shape.width)]
        x = rng.standard_normal((batch, shape.height, shape.width, shape.c_in))
        # He-scaled weights keep outputs O(1), as in a trained network.
        w = rng.standard_normal((KERNEL, KERNEL, shape.c_in, shape.c_out))
        w *= math.sqrt(2.0 / (KERNEL * KERNEL * shape.c_in))
        g = rng.standard_normal((batch, *out_hw, shape.c_out))
        return cls(*(a.astype(np.float32) for a in (x, w, g)))

    def torch(self) -> tuple[Any, Any, Any]:
        import torch

        def nchw(a: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

        w = torch.from_numpy(np.ascontiguousarray(self.w.transpose(3, 2, 0, 1)))  # OIHW
        return nchw(self.x), w, nchw(self.g)


def conv_fn(shape: Shape, impl: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    def conv(x: jax.Array, w: jax.Array) -> jax.Array:
        strides = (shape.stride,) * 2
        return conv_general_dilated(x, w, strides, "SAME", dimension_numbers=_DNUMS, impl=impl)

    return conv


def torch_loop(shape: Shape, metric: str, steps: int, ops: Operands) -> Callable[[], Any]:
    """``steps`` eager steps of ``metric`` with ``F.conv2d``, as a no-argument call."""
    import torch
    import torch.nn.functional as F

    x, w, g = ops.torch()
    padding = KERNEL // 2  # symmetric; see the module docstring for stride 2

    if metric == FORWARD:

        def forward() -> Any:
            with torch.no_grad():
                for _ in range(steps):
                    out = F.conv2d(x, w, stride=shape.stride, padding=padding)
            return out

        return forward

    x.requires_grad_(True)
    w.requires_grad_(True)

    def backward() -> Any:
        for _ in range(steps):
            # As zero_grad(set_to_none=True): backward writes fresh gradients, no accumulation.
            x.grad = w.grad = None
            F.conv2d(x, w, stride=shape.stride, padding=padding).backward(g)
        return x.grad, w.grad

    return backward


def check_against_torch(shape: Shape, batch: int = 2) -> dict[str, float]:
    """Relative max difference of output, input and weight gradients, jaxdl vs torch.

    Torch gets JAX's exact SAME padding here (an explicit ``F.pad``), so the numbers
    must agree; raises ``AssertionError`` if any differs by more than ``RTOL``.
    """
    import torch.nn.functional as F

    ops = Operands.random(shape, batch, seed=1)
    args = [jnp.asarray(a) for a in (ops.x, ops.w, ops.g)]
    out, vjp = jax.vjp(conv_fn(shape, "fast"), *args[:2])
    dx, dw = vjp(args[2])
    tx, tw, tg = ops.torch()
    tx.requires_grad_(True)
    tw.requires_grad_(True)
    (top, bottom), (left, right) = shape.same_pads()
    t_out = F.conv2d(F.pad(tx, (left, right, top, bottom)), tw, stride=shape.stride)
    t_out.backward(tg)
    pairs = {
        "output": (np.asarray(out), t_out.detach().numpy().transpose(0, 2, 3, 1)),
        "input_grad": (np.asarray(dx), tx.grad.numpy().transpose(0, 2, 3, 1)),
        "weight_grad": (np.asarray(dw), tw.grad.numpy().transpose(2, 3, 1, 0)),
    }
    errors = {
        k: float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))
        for k, (a, b) in pairs.items()
    }
    bad = {k: v for k, v in errors.items() if not v <= RTOL}
    if bad:
        raise AssertionError(
            f"{shape.label(batch)}: jaxdl and torch disagree (relative max difference {bad}, "
            f"expected <= {RTOL}); the two sides do not compute the same convolution."
        )
    return errors
