"""The fast path of :func:`jaxdl.ops.conv_general_dilated`: a ``custom_vjp`` convolution.

Forward: ``lax.conv_general_dilated``; input gradient: JAX's own transposed convolution with
the kernel materialised as HWIO; weight gradient: GEMMs over shifted views of the padded
input. Only NHWC/HWIO 2-D calls that :mod:`jaxdl.ops.conv` has checked come here.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

# NHWC input, HWIO kernel, NHWC output: what ``nnx.Conv`` passes for 2-D inputs.
NHWC_HWIO = lax.ConvDimensionNumbers(
    lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2)
)

# Up to this many rows of the weight gradient (KH * KW * C_in) one im2col GEMM beats KH * KW
# GEMMs, one per kernel offset: with few input channels each per-offset GEMM is a thin
# (C, N) @ (N, O) product that re-reads the whole cotangent g (N = B*Ho*Wo); with many, the
# im2col matrix is KH * KW times the input and one tall GEMM runs slower on XLA:CPU than
# several (C, N) ones. Forward + full backward per step inside lax.scan, 3x3 SAME, 2-core CPU:
#   x               -> O    per-offset  im2col  patches   (XLA: 52, 837, 560, 11300 ms)
#   (128,28,28,1)   -> 32      6.2        4.5      4.8
#   (1024,28,28,1)  -> 32     63.7       33.5     38.8
#   (128,14,14,32)  -> 64     13.4       15.1     33.8
#   (1024,14,14,32) -> 64    129.8      151.8    302.5
# ``patches`` = lax.conv_general_dilated_patches + one GEMM: patch extraction is itself a
# grouped convolution, which XLA:CPU runs slowly when the input has many channels. Views sliced
# from NHWC (rather than from the transposed input, see _weight_grad) were 6.1, 64.5, 15.2 and
# 191.5 ms per offset and 4.8, 34.8, 16.2, 179.1 ms as im2col.
_IM2COL_MAX_ROWS = 256


class Spec(NamedTuple):
    """The static (hashable) arguments of one fast-path convolution."""

    strides: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    precision: Any
    preferred_element_type: Any


def _lax_conv(lhs: jax.Array, rhs: jax.Array, spec: Spec) -> jax.Array:
    return lax.conv_general_dilated(
        lhs,
        rhs,
        spec.strides,
        spec.padding,
        dimension_numbers=NHWC_HWIO,
        precision=spec.precision,
        preferred_element_type=spec.preferred_element_type,
    )


def _weight_grad(lhs: jax.Array, g: jax.Array, kernel_shape: tuple[int, ...], spec: Spec):
    """Weight gradient of the NHWC/HWIO convolution as GEMMs over shifted input views.

    With ``xpad`` the zero-padded input ``(B, H + pads, W + pads, C)``, strides ``(s, t)`` and
    the cotangent ``g`` of shape ``(B, Ho, Wo, O)``::

        dW[i, j, c, o] = sum_{b, h, w} xpad[b, h*s + i, w*t + j, c] * g[b, h, w, o]

    For each kernel offset ``(i, j)`` the view ``xpad[:, i::s, j::t, :][:, :Ho, :Wo]`` holds
    ``N = B*Ho*Wo`` rows of ``C`` features, so ``dW[i, j] = view^T @ g`` is one GEMM
    ``(C, N) @ (N, O)`` contracting batch and space. With few rows (``KH*KW*C``) the views are
    stacked into one im2col matrix ``(KH*KW*C, N)`` and a single GEMM is used instead; see
    ``_IM2COL_MAX_ROWS``. The input is transposed once to ``(C, B, H, W)`` so every view is
    already a row-major ``(C, N)`` operand; slicing NHWC views instead makes XLA transpose
    each one before its GEMM (weight gradient alone, x (1024, 14, 14, 32) -> 64: 141 ms vs
    83 ms per step in scan).

    Accumulates in at least float32 (bfloat16 inputs) and returns float32/float64; the
    caller casts to the kernel dtype.
    """
    kh, kw, c_in, _ = kernel_shape
    sh, sw = spec.strides
    batch, out_h, out_w, _ = g.shape
    (top, bottom), (left, right) = spec.padding
    # (C, B, H + top + bottom, W + left + right); XLA fuses the transpose into the pad.
    xpad_t = jnp.pad(lhs.transpose(3, 0, 1, 2), ((0, 0), (0, 0), (top, bottom), (left, right)))
    acc_dtype = jnp.promote_types(jnp.result_type(lhs, g), jnp.float32)

    def view(i: int, j: int) -> jax.Array:  # (C, B, Ho, Wo)
        limit = (c_in, batch, i + (out_h - 1) * sh + 1, j + (out_w - 1) * sw + 1)
        return lax.slice(xpad_t, (0, 0, i, j), limit, (1, 1, sh, sw))

    def gemm(x: jax.Array) -> jax.Array:  # (..., B, Ho, Wo), (B, Ho, Wo, O) -> (..., O)
        return jnp.einsum(
            "...bhw,bhwo->...o",
            x,
            g,
            precision=spec.precision,
            preferred_element_type=acc_dtype,
        )

    offsets = [(i, j) for i in range(kh) for j in range(kw)]
    if kh * kw * c_in <= _IM2COL_MAX_ROWS:
        dw = gemm(jnp.stack([view(i, j) for i, j in offsets]))  # (KH*KW, C, O)
    else:
        dw = jnp.stack([gemm(view(i, j)) for i, j in offsets])  # (KH*KW, C, O)
    return dw.reshape(kernel_shape)


# ``spec`` is static (strides, padding, ...), so it is a non-differentiable argument.
@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def fast_conv(lhs: jax.Array, rhs: jax.Array, spec: Spec) -> jax.Array:
    return _lax_conv(lhs, rhs, spec)


def _fast_conv_fwd(lhs: jax.Array, rhs: jax.Array, spec: Spec):
    return _lax_conv(lhs, rhs, spec), (lhs, rhs)


def _input_grad(g: jax.Array, rhs: jax.Array, input_shape: tuple[int, ...], spec: Spec):
    """Input gradient as a forward NHWC/HWIO convolution of the (dilated) cotangent.

    ``dx[b, r, q, c] = sum_{i,j,o} gd[b, r + top - i, q + left - j, o] * W[i, j, c, o]`` where
    ``gd`` is ``g`` of shape ``(B, Ho, Wo, O)`` with ``s - 1`` zeros between rows (``t - 1``
    between columns) for strides ``(s, t)``. That is a correlation of ``gd`` with the kernel
    flipped in space and with in/out features swapped, ``(KH, KW, O, C)``, padded by
    ``KH - 1 - top`` before (negative pads crop) and as much after as makes the output ``H``.

    This is exactly the convolution JAX's transpose rule emits (the results are bit-identical),
    except that the rule leaves the kernel as ``(KH, KW, C, O)`` and declares it "HWOI" through
    dimension numbers. XLA:CPU runs that layout fast in a plain ``jit`` but very slowly inside a
    while loop; materialising the HWIO kernel (a tiny transpose) avoids it. Per step inside
    ``lax.scan``, cotangent changing every step (2-core CPU):
      x (128, 14, 14, 32) -> 64, 3x3 SAME, stride 1:  XLA 20 ms, this 2.2 ms
      x (1024, 14, 14, 32) -> 64, same:                XLA 163 ms, this 18 ms
      x (128, 28, 28, 1) -> 32, 3x3 SAME:              XLA 11 ms, this 1.5 ms
      x (128, 14, 14, 32) -> 64, 3x3 SAME, stride 2:   XLA 2.8 ms, this 1.2 ms
    (The same col2im written as one GEMM plus KH*KW shifted adds took 6.3, 49, 1.0, 0.8 ms.)
    """
    _, height, width, _ = input_shape
    kh, kw = rhs.shape[:2]
    sh, sw = spec.strides
    out_h, out_w = g.shape[1:3]
    (top, _), (left, _) = spec.padding
    kernel = jnp.flip(rhs, (0, 1)).transpose(0, 1, 3, 2)  # (KH, KW, O, C)
    if kernel.dtype != g.dtype:  # as JAX's rule: g is wider with preferred_element_type
        kernel = kernel.astype(g.dtype)
    lo_h, lo_w = kh - 1 - top, kw - 1 - left
    hi_h = height + kh - 1 - lo_h - ((out_h - 1) * sh + 1)
    hi_w = width + kw - 1 - lo_w - ((out_w - 1) * sw + 1)
    return lax.conv_general_dilated(
        g,
        kernel,
        (1, 1),
        ((lo_h, hi_h), (lo_w, hi_w)),
        lhs_dilation=spec.strides,
        dimension_numbers=NHWC_HWIO,
        precision=spec.precision,
        preferred_element_type=spec.preferred_element_type,
    )


def _fast_conv_bwd(spec: Spec, residuals: tuple[jax.Array, jax.Array], g: jax.Array):
    lhs, rhs = residuals
    d_lhs = _input_grad(g, rhs, lhs.shape, spec).astype(lhs.dtype)
    d_rhs = _weight_grad(lhs, g, rhs.shape, spec).astype(rhs.dtype)
    return d_lhs, d_rhs


fast_conv.defvjp(_fast_conv_fwd, _fast_conv_bwd)
