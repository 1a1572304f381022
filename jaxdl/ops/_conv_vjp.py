"""The fast path of :func:`jaxdl.ops.conv_general_dilated`: a ``custom_vjp`` convolution.

Forward: ``lax.conv_general_dilated``; input gradient: JAX's own transposed convolution with
the kernel materialised as HWIO; weight gradient: a forward convolution of the transposed
input with the transposed cotangent (an im2col GEMM for one input channel). Only NHWC/HWIO
2-D calls that :mod:`jaxdl.ops.conv` has checked come here.
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

# The weight gradient has two formulations (see _weight_grad). Forward + full backward per step
# inside lax.scan, input and weight changing every step, 3x3 SAME, 2-core CPU, ms (the
# third column is the one-GEMM-per-kernel-offset form this module used before 2026-12-03):
#   x                 -> O    im2col GEMM   convolution   per-offset GEMMs
#   (128,28,28,1)     -> 32       11.4          11.3          13.0
#   (1024,28,28,1)    -> 32       91.5         101.0         195.9
#   (128,28,28,3)     -> 32       24.0          19.3          23.1
#   (128,28,28,16)    -> 32       40.3          35.1          40.1
#   (128,14,14,32)    -> 64       27.0          22.2          28.1
#   (1024,14,14,32)   -> 64      224.7         186.2         255.1
#   (128,14,14,64)    -> 64       54.1          44.1          57.6
#   (128,28,28,32)    -> 64 s2    39.3          39.3          38.2
# (A side probe on 2026-12-03: each variant traced and compiled by itself, interleaved,
# median of 5 scans of 10 steps.) With one input channel the im2col matrix is only KH*KW rows
# and its GEMM wins; from three channels up the convolution does. At stride 2 the three are
# level here; `conv_layer` read 42.6 ms for the convolution against 39.7 for per-offset GEMMs.
_IM2COL_MAX_C_IN = 1


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
    """Weight gradient of the NHWC/HWIO convolution, by one of two formulations.

    With ``xpad`` the zero-padded input ``(B, H + pads, W + pads, C)``, strides ``(s, t)`` and
    the cotangent ``g`` of shape ``(B, Ho, Wo, O)``::

        dW[i, j, c, o] = sum_{b, h, w} xpad[b, h*s + i, w*t + j, c] * g[b, h, w, o]

    - **Convolution** (``C > 1``): read with ``c`` as the batch, ``(h, w)`` as the kernel's
      space and ``b`` as the contracted feature, that sum is a forward NHWC/HWIO
      convolution of ``xpad`` laid out as ``(C, Hp, Wp, B)`` with ``g`` laid out as a
      ``(Ho, Wo, B, O)`` kernel dilated by the strides, cropped to ``(C, KH, KW, O)``.
      Both operands are materialised by transposes, so XLA:CPU runs it with its fast
      NHWC/HWIO kernel even inside a while loop (the same convolution written with
      permuted dimension numbers, as JAX's transpose rule does, ran about 100x slower
      there: 1216 against 12 ms per step at x (128, 14, 14, 32) -> 64).
    - **im2col GEMM** (``C = 1``): the ``KH*KW`` shifted views
      ``xpad[:, i::s, j::t, :][:, :Ho, :Wo]``, each ``N = B*Ho*Wo`` values, stacked into
      one ``(KH*KW*C, N)`` matrix times ``g`` as ``(N, O)``.

    Which one wins where is measured above ``_IM2COL_MAX_C_IN``. Accumulates in at least
    float32 (bfloat16 inputs) and returns float32/float64; the caller casts to the kernel
    dtype.
    """
    kh, kw, c_in, _ = kernel_shape
    sh, sw = spec.strides
    batch, out_h, out_w, _ = g.shape
    (top, bottom), (left, right) = spec.padding
    acc_dtype = jnp.promote_types(jnp.result_type(lhs, g), jnp.float32)
    if c_in > _IM2COL_MAX_C_IN:
        # lax's convolution wants one dtype (g is float32 for bfloat16 inputs under
        # preferred_element_type=float32): both in the wider one, as a dot would promote.
        dtype = jnp.result_type(lhs, g)
        # (C, Hp, Wp, B); XLA fuses the transpose into the pad.
        xpad_t = jnp.pad(lhs, ((0, 0), (top, bottom), (left, right), (0, 0))).transpose(3, 1, 2, 0)
        dw = lax.conv_general_dilated(
            xpad_t.astype(dtype),
            g.transpose(1, 2, 0, 3).astype(dtype),  # (Ho, Wo, B, O)
            (1, 1),
            "VALID",
            rhs_dilation=spec.strides,
            dimension_numbers=NHWC_HWIO,
            precision=spec.precision,
            preferred_element_type=acc_dtype,
        )  # (C, >= KH, >= KW, O): padding beyond the last window adds rows past KH
        return dw[:, :kh, :kw, :].transpose(1, 2, 0, 3)
    # (C, B, H + top + bottom, W + left + right), so every view is a row-major (C, N) operand.
    xpad_t = jnp.pad(lhs.transpose(3, 0, 1, 2), ((0, 0), (0, 0), (top, bottom), (left, right)))

    def view(i: int, j: int) -> jax.Array:  # (C, B, Ho, Wo)
        limit = (c_in, batch, i + (out_h - 1) * sh + 1, j + (out_w - 1) * sw + 1)
        return lax.slice(xpad_t, (0, 0, i, j), limit, (1, 1, sh, sw))

    cols = jnp.stack([view(i, j) for i in range(kh) for j in range(kw)])  # (KH*KW, C, B, Ho, Wo)
    dw = jnp.einsum(
        "kcbhw,bhwo->kco", cols, g, precision=spec.precision, preferred_element_type=acc_dtype
    )
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
