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
- weight gradient: a forward convolution whose batch is the input's channels and whose
  kernel is the cotangent, both materialised in NHWC/HWIO by transposes (one im2col GEMM for
  a single input channel).

Forward + full backward per step inside ``lax.scan`` with the input and weight changing
every step (3x3 SAME, float32, 2-core CPU, 2026-12-03; ``python -m benchmarks.run
conv_layer``, see ``benchmarks/results/conv_layer.json`` for the runs and PyTorch's times):

==============================  =========  =========
input -> output channels        XLA        this
==============================  =========  =========
(128, 28, 28, 1) -> 32          63 ms      11.5 ms
(128, 14, 14, 32) -> 64         766 ms     21.5 ms
(1024, 28, 28, 1) -> 32         1318 ms    94 ms
(1024, 14, 14, 32) -> 64        34.1 s     200 ms
==============================  =========  =========

Everything else goes to :func:`jax.lax.conv_general_dilated` unchanged. ``impl`` chooses
between the two per call site: ``"auto"`` (the default) uses the fast path on CPU only,
``"fast"`` wherever it applies, ``"xla"`` never. A module fixes it when it is built
(:class:`jaxdl.nn.Conv`'s ``impl``, :class:`jaxdl.nn.CNNClassifier`'s ``conv_impl``), so
what a compiled function runs is part of the model, not of the process.

Example:
  >>> import jax.numpy as jnp
  >>> x, w = jnp.ones((2, 16, 16, 3)), jnp.ones((3, 3, 3, 8))
  >>> conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
  ...                      impl="fast").shape
  (2, 16, 16, 8)
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl.ops._conv_vjp import NHWC_HWIO, Spec, fast_conv

__all__ = ["CONV_IMPLS", "check_conv_impl", "conv_general_dilated"]

CONV_IMPLS = ("auto", "fast", "xla")

_MAX_KERNEL = 5
_STRIDES = (1, 2)


def check_conv_impl(impl: object, *, name: str = "impl") -> str:
    """``impl`` if it is one of :data:`CONV_IMPLS`.

    Args:
      impl: the value to check.
      name: the argument's name, for the message.

    Returns:
      ``impl``.

    Raises:
      ValueError: ``impl`` is not ``"auto"``, ``"fast"`` or ``"xla"``.
    """
    if not isinstance(impl, str) or impl not in CONV_IMPLS:
        raise ValueError(f"{name} is {impl!r}, expected one of {', '.join(map(repr, CONV_IMPLS))}.")
    return impl


def _fast_path_enabled(impl: str) -> bool:
    if impl == "auto":
        return jax.default_backend() == "cpu"
    return impl == "fast"


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
    impl: str,
) -> Spec | None:
    """The fast path's static arguments, or None when the call must go to lax unchanged.

    Anything unusual (including arguments lax would reject) returns None, so lax raises its
    own error for invalid calls.
    """
    if not _fast_path_enabled(impl) or out_sharding is not None:
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
    if tuple(dnums) != tuple(NHWC_HWIO):
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
    return Spec(strides, pairs, precision, preferred_element_type)  # type: ignore[arg-type]


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
    *,
    impl: str = "auto",
) -> jax.Array:
    """:func:`jax.lax.conv_general_dilated` with gradients that are fast inside ``scan`` on CPU.

    Same signature, forward values and dtypes as :func:`jax.lax.conv_general_dilated`, plus
    ``impl``; pass it as ``nnx.Conv(..., conv_general_dilated=conv_general_dilated)`` or use
    :class:`jaxdl.nn.Conv`.

    The fast path is taken when ``impl`` allows it (``"auto"``: on CPU; ``"fast"``: on any
    backend; ``"xla"``: never) and the call is a
    2-D convolution with input ``(B, H, W, C)`` (NHWC), kernel ``(KH, KW, C, O)`` (HWIO) and
    NHWC output, ``1 <= KH, KW <= 5``, window strides 1 or 2 per dimension, ``'SAME'``,
    ``'VALID'`` or non-negative explicit padding, no lhs/rhs dilation, no feature or batch
    groups, real floating dtype and no ``out_sharding``. It is a :func:`jax.custom_vjp`:

    - forward: ``lax.conv_general_dilated`` itself, so outputs are bit-identical;
    - input gradient: the convolution JAX's own transpose rule emits, with the flipped kernel
      materialised as HWIO (bit-identical to ``jax.grad`` of the lax convolution);
    - weight gradient: ``dW[i, j] = sum_{b,h,w} xpad[b, h*s + i, w*t + j, :]^T g[b, h, w, :]``
      as a forward NHWC/HWIO convolution of the transposed padded input with the
      transposed cotangent (with one input channel: one im2col GEMM), accumulated in at
      least float32 and cast back to the kernel dtype (equal to lax's up to summation
      order).

    Reverse mode composes as usual (``grad`` of ``grad``, ``vmap``, ``scan``, ``remat``), but
    a ``custom_vjp`` has no forward mode: ``jax.jvp``, ``jacfwd`` and ``hessian`` through the
    fast path raise ``TypeError``; use ``impl="xla"`` for those.

    Every other call is forwarded to :func:`jax.lax.conv_general_dilated` unchanged, so its
    autodiff is XLA's.

    Raises:
      ValueError: ``impl`` is not one of :data:`CONV_IMPLS`; invalid convolutions raise
        what :func:`jax.lax.conv_general_dilated` raises.
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
        check_conv_impl(impl),
    )
    if spec is not None:
        return fast_conv(lhs, rhs, spec)
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
