"""Tests for the scan-friendly convolution in ``jaxdl.ops.conv`` and the layer ``jaxdl.nn.Conv``.

Every comparison is against ``jax.lax.conv_general_dilated`` and its autodiff. Whether the fast
path ran is read from the jaxpr: only the fast path emits a ``custom_vjp_call``. The tests ask
for ``impl="fast"``, so they check the fast path whatever the backend.

XLA compiles are the cost here, so each group of configurations is computed in one ``jit``
(shared by the group's parametrized tests through a module-scoped fixture).
"""

from __future__ import annotations

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from jaxdl.nn import CNNClassifier, Conv, ConvBlock
from jaxdl.ops import conv_general_dilated as ops_conv

NHWC = ("NHWC", "HWIO", "NHWC")
F32_RTOL = 1e-5
# bfloat16 keeps 8 significant bits, so rounding the float32-accumulated weight gradient to the
# kernel dtype alone costs up to 2**-9 relative per element; 2**-7 (two bf16 ulps at the
# largest element) covers that with margin, while a bfloat16 running sum over the 1000+
# positive terms of the bf16 tests would stall and be off by tens of percent. (XLA:CPU's dot
# accumulates bf16 in float32 internally anyway, so the bf16 test also checks the jaxpr asks
# for float32 accumulation, which other backends need.)
BF16_RTOL = 2.0**-7

# The fast path wherever it applies, whatever the backend.
conv_general_dilated = functools.partial(ops_conv, impl="fast")


def rel_err(a, b) -> float:
    """``max|a - b| / max|b|`` in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def uses_fast_path(fn, *args) -> bool:
    return "custom_vjp_call" in str(jax.make_jaxpr(lambda *a: fn(*a))(*args))


def contractions(fn, *args):
    """Every ``dot_general`` and ``conv_general_dilated`` equation in ``fn``'s jaxpr,
    including nested jaxprs."""
    names = ("dot_general", "conv_general_dilated")

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in names:
                yield eqn
            for param in eqn.params.values():
                for sub in param if isinstance(param, tuple | list) else (param,):
                    sub = getattr(sub, "jaxpr", sub)  # ClosedJaxpr -> Jaxpr
                    if hasattr(sub, "eqns"):
                        yield from walk(sub)

    return list(walk(jax.make_jaxpr(fn)(*args).jaxpr))


def make_case(x_shape, w_shape, kwargs, *, seed=0, dtype=np.float32, positive=False):
    """NumPy inputs ``(x, w, ct)``; ``ct`` is a cotangent shaped like the conv output."""
    rng = np.random.default_rng(seed)
    draw = rng.uniform if positive else rng.standard_normal
    x = draw(size=x_shape)
    w = draw(size=w_shape) / np.sqrt(np.prod(w_shape[:-1]))
    y = jax.eval_shape(lambda x, w: lax.conv_general_dilated(x, w, **kwargs), x, w)
    ct = draw(size=y.shape)
    return tuple(jnp.asarray(a, dtype) for a in (x, w, ct))


def value_and_grads(conv_fn, x, w, ct, kwargs):
    """``(y, dx, dw)``: ``y = conv(x, w)`` and the gradients for the cotangent ``ct``."""
    y, vjp = jax.vjp(lambda x, w: conv_fn(x, w, **kwargs), x, w)
    return (y, *vjp(ct))


def compare_all(cases):
    """``{name: (ours, lax's)}`` for ``{name: ((x, w, ct), kwargs)}``, all in one ``jit``."""
    inputs = {name: args for name, (args, _) in cases.items()}

    def run(inputs):
        return {
            name: tuple(
                value_and_grads(fn, *inputs[name], kwargs)
                for fn in (conv_general_dilated, lax.conv_general_dilated)
            )
            for name, (_, kwargs) in cases.items()
        }

    return jax.jit(run)(inputs)


def conv_kwargs(strides=(1, 1), padding="SAME", **extra):
    return dict(window_strides=strides, padding=padding, dimension_numbers=NHWC) | extra


# --- fast path, float32 ---------------------------------------------------------------------

# (kernel, strides, padding): every supported configuration, on a non-square input.
SUPPORTED = {
    f"k{k}-s{s}-{pad}": ((k, k), (s, s), pad)
    for k in (1, 3, 5)
    for s in (1, 2)
    for pad in ("SAME", "VALID")
} | {
    "k2-s1-SAME": ((2, 2), (1, 1), "SAME"),
    "k2-s2-SAME": ((2, 2), (2, 2), "SAME"),
    "k4-s1-SAME": ((4, 4), (1, 1), "SAME"),
    "k4-s2-SAME": ((4, 4), (2, 2), "SAME"),
    "k3x5-s1x2-SAME": ((3, 5), (1, 2), "SAME"),
    "k3-s2x1-explicit": ((3, 3), (2, 1), ((2, 0), (0, 3))),
    "k5-s2-wide-explicit": ((5, 5), (2, 2), [(4, 4), (1, 2)]),
    # Many input channels, as a network's inner layers (the weight gradient as a convolution).
    "k3-s1-SAME-c32": ((3, 3), (1, 1), "SAME", 32),
    "k3-s2-VALID-c32": ((3, 3), (2, 2), "VALID", 32),
    # One to three input channels, as a network's first layer (one: an im2col GEMM).
    "k3-s1-SAME-c1": ((3, 3), (1, 1), "SAME", 1),
    "k3-s2x1-explicit-c3": ((3, 3), (2, 1), ((2, 0), (0, 3)), 3),
    "k5-s2-wide-explicit-c1": ((5, 5), (2, 2), [(4, 4), (1, 2)], 1),
}


def _supported_case(kernel, strides, padding, channels=4):
    kwargs = conv_kwargs(strides, padding)
    return make_case((3, 11, 8, channels), (*kernel, channels, 6), kwargs), kwargs


@pytest.fixture(scope="module")
def supported_results():
    return compare_all({name: _supported_case(*cfg) for name, cfg in SUPPORTED.items()})


@pytest.mark.parametrize("name", list(SUPPORTED))
def test_fast_path_matches_lax_float32(name, supported_results):
    (x, w, _), kwargs = _supported_case(*SUPPORTED[name])
    assert uses_fast_path(lambda x, w: conv_general_dilated(x, w, **kwargs), x, w)
    (y, dx, dw), (y_ref, dx_ref, dw_ref) = supported_results[name]

    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(y, lax.conv_general_dilated(x, w, **kwargs))
    assert dx.shape == x.shape and dw.shape == w.shape
    assert rel_err(dx, dx_ref) <= F32_RTOL
    assert rel_err(dw, dw_ref) <= F32_RTOL


# --- fast path, bfloat16 --------------------------------------------------------------------

BF16 = {
    "k3-s1-SAME-c1": ((3, 3), (1, 1), "SAME", 1),
    "k3-s2-VALID-c1": ((3, 3), (2, 2), "VALID", 1),
    "k5-s2x1-SAME-c1": ((5, 5), (2, 1), "SAME", 1),
    "k3-s1-SAME-c32": ((3, 3), (1, 1), "SAME", 32),
    "k3-s2-VALID-c32": ((3, 3), (2, 2), "VALID", 32),
}


def _bf16_case(kernel, strides, padding, channels):
    # Positive values and B*Ho*Wo >= 1000 terms per weight: a bfloat16 running sum stalls once
    # it is ~256x a term, so only float32 accumulation passes BF16_RTOL.
    kwargs = conv_kwargs(strides, padding)
    x_shape, w_shape = (8, 16, 16, channels), (*kernel, channels, 8)
    return make_case(x_shape, w_shape, kwargs, dtype=jnp.bfloat16, positive=True), kwargs


@pytest.fixture(scope="module")
def bf16_results():
    cases = {name: _bf16_case(*cfg) for name, cfg in BF16.items()}
    # The float32 reference sees the same bf16-representable values.
    f32 = {
        name: (tuple(a.astype(jnp.float32) for a in args), kwargs)
        for name, (args, kwargs) in cases.items()
    }
    bf16 = compare_all(cases)
    f32_ref = compare_all(f32)
    return {name: (bf16[name][0], bf16[name][1], f32_ref[name][1]) for name in cases}


@pytest.mark.parametrize("name", list(BF16))
def test_fast_path_bfloat16_accumulates_in_float32(name, bf16_results):
    (x, w, ct), kwargs = _bf16_case(*BF16[name])
    assert uses_fast_path(lambda x, w: conv_general_dilated(x, w, **kwargs), x, w)
    ops = contractions(lambda *a: value_and_grads(conv_general_dilated, *a, kwargs), x, w, ct)
    # The forward and the input gradient keep the caller's (absent) preferred type; the
    # weight gradient's one GEMM or convolution asks for float32.
    wide = [eqn for eqn in ops if eqn.params["preferred_element_type"] == jnp.float32]
    assert len(ops) == 3 and len(wide) == 1
    (y, dx, dw), (y_lax, _, _), (y_ref, dx_ref, dw_ref) = bf16_results[name]

    assert (y.dtype, dx.dtype, dw.dtype) == (jnp.bfloat16,) * 3
    np.testing.assert_array_equal(y, y_lax)
    assert rel_err(y, y_ref) <= BF16_RTOL
    assert rel_err(dx, dx_ref) <= BF16_RTOL
    assert rel_err(dw, dw_ref) <= BF16_RTOL


def test_fast_path_preferred_element_type_float32_with_bfloat16_inputs():
    kwargs = conv_kwargs((2, 2), preferred_element_type=jnp.float32)
    x, w, _ = make_case((2, 9, 7, 3), (3, 3, 3, 5), kwargs, dtype=jnp.bfloat16)
    ct = jnp.asarray(np.random.default_rng(1).standard_normal((2, 5, 4, 5)), jnp.float32)
    assert uses_fast_path(lambda x, w: conv_general_dilated(x, w, **kwargs), x, w)
    (y, dx, dw), (y_ref, dx_ref, dw_ref) = compare_all({"case": ((x, w, ct), kwargs)})["case"]

    assert (y.dtype, dx.dtype, dw.dtype) == (jnp.float32, jnp.bfloat16, jnp.bfloat16)
    np.testing.assert_array_equal(y, y_ref)
    assert rel_err(dx, dx_ref) <= BF16_RTOL
    assert rel_err(dw, dw_ref) <= BF16_RTOL


# --- fallback -------------------------------------------------------------------------------

FALLBACK = {
    "rhs_dilation": ((2, 9, 7, 4), (3, 3, 4, 6), dict(rhs_dilation=(2, 2))),
    "lhs_dilation": ((2, 9, 7, 4), (3, 3, 4, 6), dict(lhs_dilation=(2, 2), padding=[(1, 1)] * 2)),
    "feature_groups": ((2, 9, 7, 4), (3, 3, 2, 6), dict(feature_group_count=2)),
    "batch_groups": ((4, 9, 7, 4), (3, 3, 4, 6), dict(batch_group_count=2)),
    "stride_3": ((2, 9, 7, 4), (3, 3, 4, 6), dict(window_strides=(3, 3))),
    "kernel_7": ((2, 9, 7, 4), (7, 7, 4, 6), dict()),
    "negative_padding": ((2, 9, 7, 4), (3, 3, 4, 6), dict(padding=[(-1, 0), (0, 0)])),
    "nchw": ((2, 4, 9, 7), (6, 4, 3, 3), dict(dimension_numbers=None)),
    "nhwc_oihw": ((2, 9, 7, 4), (6, 4, 3, 3), dict(dimension_numbers=("NHWC", "OIHW", "NHWC"))),
    "conv_1d": (
        (2, 9, 4),
        (3, 4, 6),
        dict(window_strides=(1,), dimension_numbers=("NWC", "WIO", "NWC")),
    ),
}


def _fallback_case(x_shape, w_shape, overrides):
    kwargs = conv_kwargs() | overrides
    return make_case(x_shape, w_shape, kwargs), kwargs


@pytest.fixture(scope="module")
def fallback_results():
    return compare_all({name: _fallback_case(*cfg) for name, cfg in FALLBACK.items()})


@pytest.mark.parametrize("name", list(FALLBACK))
def test_unsupported_calls_fall_back_to_lax(name, fallback_results):
    (x, w, _), kwargs = _fallback_case(*FALLBACK[name])
    assert not uses_fast_path(lambda x, w: conv_general_dilated(x, w, **kwargs), x, w)
    ours, theirs = fallback_results[name]
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "dtypes"),
    [
        ((2, 9, 7, 4), (3, 3, 5, 6), (jnp.float32, jnp.float32)),  # 4 channels, kernel wants 5
        ((2, 9, 7, 4), (3, 3, 4, 6), (jnp.bfloat16, jnp.float32)),  # mixed dtypes
    ],
)
def test_invalid_calls_raise_lax_errors(x_shape, w_shape, dtypes):
    x, w = jnp.ones(x_shape, dtypes[0]), jnp.ones(w_shape, dtypes[1])
    with pytest.raises(Exception) as ours:  # noqa: B017 - whatever lax raises
        jax.eval_shape(lambda x, w: conv_general_dilated(x, w, **conv_kwargs()), x, w)
    with pytest.raises(Exception) as theirs:  # noqa: B017
        jax.eval_shape(lambda x, w: lax.conv_general_dilated(x, w, **conv_kwargs()), x, w)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


# --- impl -----------------------------------------------------------------------------------


def _probe(impl):
    x, w = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 4))
    return uses_fast_path(lambda x, w: ops_conv(x, w, **conv_kwargs(), impl=impl), x, w)


def test_impl_chooses_the_convolution():
    assert _probe("fast")
    assert not _probe("xla")
    assert _probe("auto") == (jax.default_backend() == "cpu")
    x, w = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 4))
    default = uses_fast_path(lambda x, w: ops_conv(x, w, **conv_kwargs()), x, w)
    assert default == _probe("auto")


@pytest.mark.parametrize("bad", ["XLA", "gpu", "", None])
def test_unknown_impl_is_refused_when_the_layer_is_built(bad):
    expected = r"expected one of 'auto', 'fast', 'xla'"
    with pytest.raises(ValueError, match=rf"^impl is {re.escape(repr(bad))}, {expected}\.$"):
        Conv(2, 4, (3, 3), impl=bad, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=rf"^conv_impl is {re.escape(repr(bad))}, {expected}"):
        ConvBlock(2, 4, conv_impl=bad, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=rf"^conv_impl is {re.escape(repr(bad))}, {expected}"):
        CNNClassifier(channels=(4,), hidden=(8,), conv_impl=bad, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=rf"^impl is {re.escape(repr(bad))}, {expected}"):
        ops_conv(jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 2, 2)), **conv_kwargs(), impl=bad)


def test_the_layer_keeps_its_impl():
    x = jnp.ones((2, 8, 8, 3))
    for impl, fast in (("fast", True), ("xla", False), ("auto", jax.default_backend() == "cpu")):
        layer = Conv(3, 4, (3, 3), impl=impl, rngs=nnx.Rngs(0))
        assert layer.impl == impl and uses_fast_path(layer, x) == fast
    # The choice is a static field: same impl, same graph definition (one jit cache entry);
    # another impl, another graph definition (another compilation, never a stale one).
    same = [nnx.graphdef(Conv(3, 4, (3, 3), impl="xla", rngs=nnx.Rngs(i))) for i in (0, 1)]
    assert same[0] == same[1] and hash(same[0]) == hash(same[1])
    assert nnx.graphdef(Conv(3, 4, (3, 3), impl="fast", rngs=nnx.Rngs(0))) != same[0]


def test_cnn_classifier_passes_its_conv_impl_to_every_conv():
    for impl in ("fast", "xla"):
        model = CNNClassifier(
            channels=(4, 8), hidden=(8,), block_depth=2, conv_impl=impl, rngs=nnx.Rngs(0)
        )
        convs = [conv for block in model.blocks for conv in block.convs]
        assert len(convs) == 4 and {conv.impl for conv in convs} == {impl}
        x = jnp.ones((2, 28, 28, 1))
        assert uses_fast_path(model, x) == (impl == "fast")


# --- transformations ------------------------------------------------------------------------


def test_inside_scan_matches_lax():
    kwargs = conv_kwargs()
    x, w, _ = make_case((2, 8, 6, 3), (3, 3, 3, 3), kwargs)

    def loss(conv_fn, x, w):
        def step(h, _):
            return jnp.tanh(conv_fn(h, w, **kwargs)), None

        h, _ = lax.scan(step, x, length=3)
        return jnp.sum(h * jnp.cos(h))

    assert uses_fast_path(lambda x, w: loss(conv_general_dilated, x, w), x, w)
    grads = jax.jit(
        lambda x, w: [
            jax.grad(loss, argnums=(1, 2))(fn, x, w)
            for fn in (conv_general_dilated, lax.conv_general_dilated)
        ]
    )(x, w)
    for got, want in zip(*grads, strict=True):
        assert rel_err(got, want) <= F32_RTOL


def test_under_vmap_matches_lax():
    kwargs = conv_kwargs((2, 2))
    rng = np.random.default_rng(0)
    xs = jnp.asarray(rng.standard_normal((4, 2, 9, 7, 3)), jnp.float32)
    ws = jnp.asarray(rng.standard_normal((4, 3, 3, 3, 5)) / 5, jnp.float32)

    def loss(conv_fn, x, w):
        return jnp.sum(jnp.sin(conv_fn(x, w, **kwargs)))

    def shared_kernel_loss(conv_fn, w):  # vmap inside grad: dw sums over the mapped axis
        return jnp.sum(jax.vmap(lambda x: loss(conv_fn, x, w))(xs))

    def run(conv_fn):
        return (
            jax.grad(shared_kernel_loss, argnums=1)(conv_fn, ws[0]),
            # grad inside vmap, with x and w both mapped: per-example (dx, dw)
            jax.vmap(jax.grad(loss, argnums=(1, 2)), in_axes=(None, 0, 0))(conv_fn, xs, ws),
        )

    assert uses_fast_path(lambda w: shared_kernel_loss(conv_general_dilated, w), ws[0])
    ours, theirs = jax.jit(lambda: [run(conv_general_dilated), run(lax.conv_general_dilated)])()
    for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        assert got.shape == want.shape
        assert rel_err(got, want) <= F32_RTOL


# --- nnx.Conv drop-in -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        dict(kernel_size=(3, 3)),
        dict(kernel_size=(3, 3), strides=2, padding="VALID", use_bias=False),
        dict(kernel_size=(5, 5), padding=((2, 1), (0, 2))),
        dict(kernel_size=(3, 3), padding="CIRCULAR"),
    ],
)
def test_conv_module_is_a_drop_in_for_nnx_conv(options):
    ours = Conv(3, 6, impl="fast", rngs=nnx.Rngs(0), **options)
    theirs = nnx.Conv(3, 6, rngs=nnx.Rngs(0), **options)
    assert ours.impl == "fast"
    params = [jax.tree.leaves(nnx.state(m)) for m in (ours, theirs)]
    for a, b in zip(*params, strict=True):
        np.testing.assert_array_equal(a, b)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 3, 12, 10, 3)), jnp.float32)
    assert uses_fast_path(ours, x)  # two leading batch dims, flattened by nnx.Conv

    def loss(model, x):
        y = model(x)
        return jnp.sum(jnp.sin(y)), y

    @nnx.jit
    def run(ours, theirs, x):
        grad = nnx.grad(loss, argnums=(0, 1), has_aux=True)
        return grad(ours, x), grad(theirs, x)

    (g_ours, y_ours), (g_theirs, y_theirs) = run(ours, theirs, x)
    np.testing.assert_array_equal(y_ours, y_theirs)
    leaves_ours, leaves_theirs = jax.tree.leaves(g_ours), jax.tree.leaves(g_theirs)
    # kernel, dx and (with use_bias) bias
    assert len(leaves_ours) == len(leaves_theirs) == 2 + options.get("use_bias", True)
    for got, want in zip(leaves_ours, leaves_theirs, strict=True):
        assert rel_err(got, want) <= F32_RTOL


def test_nnx_conv_accepts_the_function_directly():
    layer = nnx.Conv(2, 4, (3, 3), conv_general_dilated=conv_general_dilated, rngs=nnx.Rngs(0))
    x = jnp.ones((1, 6, 6, 2))
    assert uses_fast_path(layer, x)
    assert layer(x).shape == (1, 6, 6, 4)


def test_forward_mode_needs_impl_xla():
    kwargs = conv_kwargs()
    x, w, _ = make_case((1, 5, 5, 2), (3, 3, 2, 2), kwargs)

    def jvp(impl):
        return jax.jvp(lambda x: ops_conv(x, w, **kwargs, impl=impl), (x,), (x,))

    with pytest.raises(TypeError, match="forward-mode"):
        jvp("fast")
    y, dy = jvp("xla")
    np.testing.assert_array_equal(dy, lax.conv_general_dilated(x, w, **kwargs))
