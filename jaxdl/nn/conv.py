"""A 2-D convolution whose gradients stay fast inside ``lax.scan`` on XLA:CPU.

XLA:CPU computes a convolution's weight gradient with a "backward-filter" convolution that is
slow in a plain ``jit`` and catastrophically slow inside a while loop. Measured on a 2-core CPU
for a 3x3 SAME conv, x ``(128, 14, 14, 32)``, w ``(3, 3, 32, 64)``: forward 4 ms, input gradient
4.5 ms, weight gradient 8.7 ms in a plain ``jit``, but ~600-860 ms per step when the weight
gradient runs inside ``lax.scan`` (``unroll=True`` avoids it, ``unroll=2`` does not). The input
gradient is also slower inside ``scan`` (20 ms instead of 2 ms per step). The training loop
compiles whole epochs as ``lax.scan``, so every CNN trained with it pays this.

Both gradients are convolutions that JAX's transpose rules express through permuted dimension
numbers (e.g. a kernel declared "HWOI") rather than by moving data; XLA:CPU's fast convolution
kernels only take NHWC/HWIO operands, and inside a while loop it does not relayout the operands
to get there. :func:`conv_general_dilated` is a drop-in for
:func:`jax.lax.conv_general_dilated` that, for the common NHWC/HWIO 2-D case, uses a
:func:`jax.custom_vjp`:

- forward: ``lax.conv_general_dilated`` itself;
- input gradient: the same transposed convolution as JAX's, with the kernel materialised as HWIO
  (bit-identical results);
- weight gradient: GEMMs over shifted views of the padded input.

Forward + full backward per step inside ``lax.scan`` with the input and cotangent changing
every step (3x3 SAME, float32, 2-core CPU; ``python -m benchmarks.run conv_layer``, see
``benchmarks/results/conv_layer.json`` for the runs and PyTorch's times):

==============================  =========  =========
input -> output channels        XLA        this
==============================  =========  =========
(128, 28, 28, 1) -> 32          44 ms      4.8 ms
(128, 14, 14, 32) -> 64         556 ms     12.0 ms
(1024, 28, 28, 1) -> 32         844 ms     75 ms
(1024, 14, 14, 32) -> 64        10.9 s     129 ms
==============================  =========  =========

Everything else goes to :func:`jax.lax.conv_general_dilated` unchanged, and :func:`set_conv_impl`
/ :func:`conv_impl` (or ``$JAXDL_CONV_IMPL``) choose between the two; the default uses the fast
path on CPU only.

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> conv = Conv(3, 8, (3, 3), rngs=nnx.Rngs(0))
  >>> conv(jnp.ones((2, 16, 16, 3))).shape
  (2, 16, 16, 8)
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

__all__ = ["CONV_IMPLS", "Conv", "conv_general_dilated", "conv_impl", "set_conv_impl"]

CONV_IMPLS = ("auto", "fast", "xla")
_ENV_VAR = "JAXDL_CONV_IMPL"

# NHWC input, HWIO kernel, NHWC output: what ``nnx.Conv`` passes for 2-D inputs.
_NHWC_HWIO = lax.ConvDimensionNumbers(
    lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2)
)
_MAX_KERNEL = 5
_STRIDES = (1, 2)

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


def _check_impl(impl: object, name: str) -> str:
    if impl not in CONV_IMPLS:
        raise ValueError(f"{name} is {impl!r}, expected one of {', '.join(map(repr, CONV_IMPLS))}.")
    return str(impl)


def _impl_from_env() -> str:
    value = os.environ.get(_ENV_VAR, "").strip().lower() or "auto"
    return _check_impl(value, f"environment variable {_ENV_VAR}")


_impl = _impl_from_env()


def set_conv_impl(impl: str) -> None:
    """Sets which convolution :func:`conv_general_dilated` uses from now on.

    Args:
      impl: ``"auto"`` (the default, or ``$JAXDL_CONV_IMPL`` when set): the fast path when
        ``jax.default_backend() == "cpu"``, XLA's own convolution on GPU/TPU, where its weight
        gradient is fast. ``"fast"``: the fast path wherever it applies. ``"xla"``: always
        :func:`jax.lax.conv_general_dilated`.

    The policy is read when a function is traced, so it does not change functions that ``jit``
    has already compiled; it is process-wide, not per thread.
    """
    global _impl
    _impl = _check_impl(impl, "impl")


@contextlib.contextmanager
def conv_impl(impl: str) -> Iterator[None]:
    """Context manager that sets the policy of :func:`set_conv_impl` and restores it on exit.

    Example:
      >>> with conv_impl("xla"):
      ...     pass  # functions traced here use lax.conv_general_dilated unchanged
    """
    global _impl
    previous = _impl
    _impl = _check_impl(impl, "impl")
    try:
        yield
    finally:
        _impl = previous


def _fast_path_enabled() -> bool:
    if _impl == "auto":
        return jax.default_backend() == "cpu"
    return _impl == "fast"


class _Spec(NamedTuple):
    """The static (hashable) arguments of one fast-path convolution."""

    strides: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    precision: Any
    preferred_element_type: Any


def _ints(values: Any, n: int) -> tuple[int, ...] | None:
    """``values`` as ``n`` Python ints, or None if it is not such a sequence."""
    try:
        out = tuple(operator.index(v) for v in values)
    except TypeError:
        return None
    return out if len(out) == n else None


def _all_ones(dilation: Sequence[int] | None) -> bool:
    return dilation is None or _ints(dilation, 2) == (1, 1)


def _fast_spec(
    lhs: Any,
    rhs: Any,
    window_strides: Any,
    padding: Any,
    lhs_dilation: Any,
    rhs_dilation: Any,
    dimension_numbers: Any,
    feature_group_count: int,
    batch_group_count: int,
    precision: Any,
    preferred_element_type: Any,
    out_sharding: Any,
) -> _Spec | None:
    """The fast path's static arguments, or None when the call must go to lax unchanged.

    Anything unusual (including arguments lax would reject) returns None, so lax raises its
    own error for invalid calls.
    """
    if not _fast_path_enabled() or out_sharding is not None:
        return None
    if not (isinstance(lhs, jax.Array | np.ndarray) and isinstance(rhs, jax.Array | np.ndarray)):
        return None
    if lhs.ndim != 4 or rhs.ndim != 4 or lhs.dtype != rhs.dtype:
        return None
    # Complex and integer convolutions are rare; keep XLA's autodiff for them.
    if not jnp.issubdtype(lhs.dtype, jnp.floating):
        return None
    if feature_group_count != 1 or batch_group_count != 1:
        return None
    if not (_all_ones(lhs_dilation) and _all_ones(rhs_dilation)):
        return None
    try:
        dnums = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    except (TypeError, ValueError):
        return None
    if tuple(dnums) != tuple(_NHWC_HWIO):
        return None
    batch, height, width, c_in = lhs.shape
    kh, kw, k_in, _ = rhs.shape
    if batch == 0 or k_in != c_in or not (1 <= kh <= _MAX_KERNEL and 1 <= kw <= _MAX_KERNEL):
        return None
    strides = _ints(window_strides, 2)
    if strides is None or any(s not in _STRIDES for s in strides):
        return None
    if isinstance(padding, str):
        try:
            pads = lax.padtype_to_pads((height, width), (kh, kw), strides, padding)
        except (TypeError, ValueError, KeyError):
            return None
    else:
        pads = padding
    try:
        pairs = tuple((operator.index(lo), operator.index(hi)) for lo, hi in pads)
    except (TypeError, ValueError):
        return None
    if len(pairs) != 2 or any(p < 0 for pair in pairs for p in pair):
        return None
    # An empty output would make the weight gradient a GEMM over nothing; let lax handle it.
    if height + sum(pairs[0]) < kh or width + sum(pairs[1]) < kw:
        return None
    if isinstance(precision, list):
        precision = tuple(precision)
    try:
        hash((precision, preferred_element_type))
    except TypeError:
        return None
    return _Spec(strides, pairs, precision, preferred_element_type)  # type: ignore[arg-type]


def _lax_conv(lhs: jax.Array, rhs: jax.Array, spec: _Spec) -> jax.Array:
    return lax.conv_general_dilated(
        lhs,
        rhs,
        spec.strides,
        spec.padding,
        dimension_numbers=_NHWC_HWIO,
        precision=spec.precision,
        preferred_element_type=spec.preferred_element_type,
    )


def _weight_grad(lhs: jax.Array, g: jax.Array, kernel_shape: tuple[int, ...], spec: _Spec):
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
def _fast_conv(lhs: jax.Array, rhs: jax.Array, spec: _Spec) -> jax.Array:
    return _lax_conv(lhs, rhs, spec)


def _fast_conv_fwd(lhs: jax.Array, rhs: jax.Array, spec: _Spec):
    return _lax_conv(lhs, rhs, spec), (lhs, rhs)


def _input_grad(g: jax.Array, rhs: jax.Array, input_shape: tuple[int, ...], spec: _Spec):
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
        dimension_numbers=_NHWC_HWIO,
        precision=spec.precision,
        preferred_element_type=spec.preferred_element_type,
    )


def _fast_conv_bwd(spec: _Spec, residuals: tuple[jax.Array, jax.Array], g: jax.Array):
    lhs, rhs = residuals
    d_lhs = _input_grad(g, rhs, lhs.shape, spec).astype(lhs.dtype)
    d_rhs = _weight_grad(lhs, g, rhs.shape, spec).astype(rhs.dtype)
    return d_lhs, d_rhs


_fast_conv.defvjp(_fast_conv_fwd, _fast_conv_bwd)


def conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision: Any = None,
    preferred_element_type: Any = None,
    out_sharding: Any = None,
) -> jax.Array:
    """:func:`jax.lax.conv_general_dilated` with gradients that are fast inside ``scan`` on CPU.

    Same signature, forward values and dtypes as :func:`jax.lax.conv_general_dilated`; pass it
    as ``nnx.Conv(..., conv_general_dilated=conv_general_dilated)`` or use :class:`Conv`.

    The fast path is taken when the policy (:func:`set_conv_impl`) allows it and the call is a
    2-D convolution with input ``(B, H, W, C)`` (NHWC), kernel ``(KH, KW, C, O)`` (HWIO) and
    NHWC output, ``1 <= KH, KW <= 5``, window strides 1 or 2 per dimension, ``'SAME'``,
    ``'VALID'`` or non-negative explicit padding, no lhs/rhs dilation, no feature or batch
    groups, real floating dtype and no ``out_sharding``. It is a :func:`jax.custom_vjp`:

    - forward: ``lax.conv_general_dilated`` itself, so outputs are bit-identical;
    - input gradient: the convolution JAX's own transpose rule emits, with the flipped kernel
      materialised as HWIO (bit-identical to ``jax.grad`` of the lax convolution);
    - weight gradient: ``dW[i, j] = sum_{b,h,w} xpad[b, h*s + i, w*t + j, :]^T g[b, h, w, :]``
      as GEMMs over shifted, strided views of the padded input, accumulated in at least
      float32 and cast back to the kernel dtype (equal to lax's up to summation order).

    Reverse mode composes as usual (``grad`` of ``grad``, ``vmap``, ``scan``, ``remat``), but
    a ``custom_vjp`` has no forward mode: ``jax.jvp``, ``jacfwd`` and ``hessian`` through the
    fast path raise ``TypeError``; trace those under ``conv_impl("xla")``.

    Every other call is forwarded to :func:`jax.lax.conv_general_dilated` unchanged, so its
    autodiff is XLA's.
    """
    spec = _fast_spec(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        feature_group_count,
        batch_group_count,
        precision,
        preferred_element_type,
        out_sharding,
    )
    if spec is not None:
        return _fast_conv(lhs, rhs, spec)
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        batch_group_count=batch_group_count,
        precision=precision,
        preferred_element_type=preferred_element_type,
        out_sharding=out_sharding,
    )


class Conv(nnx.Conv):
    """:class:`flax.nnx.Conv` that defaults to this module's :func:`conv_general_dilated`.

    Takes exactly the constructor arguments of ``nnx.Conv``; parameters are created in the same
    order, so the same ``rngs`` give the same kernel and bias as ``nnx.Conv``. Inputs are
    ``(*batch, H, W, C)``; the fast path applies to 2-D kernels, other ranks use lax.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int | Sequence[int],
        strides: None | int | Sequence[int] = 1,
        *,
        conv_general_dilated: Any = conv_general_dilated,
        **kwargs: Any,
    ):
        super().__init__(
            in_features,
            out_features,
            kernel_size,
            strides,
            conv_general_dilated=conv_general_dilated,
            **kwargs,
        )
