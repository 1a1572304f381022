"""What each normalisation layer forgets about its input, and which ones mix examples."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from jaxdl.nn import NORMS, CNNClassifier, GroupNorm, Norm

B, H, W, C = 4, 5, 5, 8


def _x(seed=0, shape=(B, H, W, C)):
    return jax.random.normal(jax.random.key(seed), shape) * 2.0 + 1.0


def _affine(seed, shape):
    """A positive scale and any shift, broadcast to (B, H, W, C) from ``shape``."""
    ka, kd = jax.random.split(jax.random.key(seed))
    return jax.random.uniform(ka, shape, minval=0.2, maxval=5.0), jax.random.normal(kd, shape) * 3


def _close(a, b):
    return bool(jnp.allclose(a, b, atol=2e-3, rtol=1e-3))


def _norm(kind, groups=2):
    norm = Norm(kind, C, groups=groups, rngs=nnx.Rngs(0))
    if norm.layer is not None:
        # A non-trivial learned scale and shift, so no check leans on scale 1, shift 0.
        norm.layer.scale[...] = jnp.linspace(0.5, 1.5, C)
        norm.layer.bias[...] = jnp.linspace(-1.0, 1.0, C)
    return norm


# Shapes of the affine map each layer is (and is not) invariant to: per example (B, 1, 1, 1),
# per example and channel (B, 1, 1, C), per channel for the whole batch (1, 1, 1, C).
PER_EXAMPLE, PER_EXAMPLE_CHANNEL, PER_CHANNEL = (B, 1, 1, 1), (B, 1, 1, C), (1, 1, 1, C)


@pytest.mark.parametrize(
    "kind, invariant, not_invariant",
    [
        ("instance", [PER_EXAMPLE, PER_EXAMPLE_CHANNEL, PER_CHANNEL], []),
        ("layer", [PER_EXAMPLE], [PER_EXAMPLE_CHANNEL, PER_CHANNEL]),
        ("group", [PER_EXAMPLE], [PER_EXAMPLE_CHANNEL, PER_CHANNEL]),
        ("none", [], [PER_EXAMPLE, PER_EXAMPLE_CHANNEL, PER_CHANNEL]),
    ],
)
def test_per_example_norms_forget_exactly_their_affine_maps(kind, invariant, not_invariant):
    norm, x = _norm(kind), _x()
    y = norm(x, train=True)
    for shape in invariant:
        a, d = _affine(1, shape)
        assert _close(norm(a * x + d, train=True), y), (kind, shape)
    for shape in not_invariant:
        a, d = _affine(1, shape)
        assert not _close(norm(a * x + d, train=True), y), (kind, shape)


def test_group_norm_forgets_an_affine_map_per_channel_group_only():
    norm, x = _norm("group", groups=2), _x()  # channels 0-3 and 4-7
    a, d = _affine(2, (B, 1, 1, 2))
    same_in_group = (jnp.repeat(a, C // 2, -1), jnp.repeat(d, C // 2, -1))
    assert _close(norm(same_in_group[0] * x + same_in_group[1]), norm(x))
    # Two channels of one group scaled differently: the group's statistics change.
    a_split = jnp.ones(C).at[0].set(3.0)
    assert not _close(norm(a_split * x), norm(x))


def test_batch_norm_in_training_forgets_a_batch_wide_per_channel_map_but_mixes_examples():
    norm, x = _norm("batch"), _x()
    a, d = _affine(3, PER_CHANNEL)
    assert _close(norm(a * x + d, train=True), norm(x, train=True))
    # Not per example: rescaling one example changes the statistics every example sees.
    a, d = _affine(4, PER_EXAMPLE)
    assert not _close(norm(a * x + d, train=True), norm(x, train=True))
    # Example 0's output depends on example 1 (the others are checked below).
    x2 = x.at[1].multiply(10.0)
    assert not _close(norm(x2, train=True)[0], norm(x, train=True)[0])


def test_batch_norm_in_evaluation_is_a_fixed_map_per_example_not_an_invariant_one():
    norm, x = _norm("batch"), _x()
    norm(x, train=True)  # moves the running statistics away from their initial values
    y = norm(x, train=False)
    # Each example on its own: the output does not depend on the rest of the batch ...
    assert _close(norm(x[:1], train=False), y[:1])
    # ... but nothing is forgotten: rescaling an example changes its output.
    assert not _close(norm(2.0 * x, train=False), y)


@pytest.mark.parametrize("kind", ["layer", "instance", "group", "none"])
def test_per_example_norms_never_look_at_the_other_examples(kind):
    norm, x = _norm(kind), _x()
    x2 = x.at[1:].set(_x(5)[1:] * 10)  # every other example replaced
    assert _close(norm(x2, train=True)[0], norm(x, train=True)[0])
    assert _close(norm(x, train=True), norm(x, train=False))  # no train/eval difference


@pytest.mark.parametrize("kind", NORMS)
def test_cnn_logits_and_per_example_scale_of_the_input(kind):
    """The first conv has no bias in front of a norm, so a positive per-example rescaling of
    the image reaches the first norm as the same rescaling: layer, instance and group norm
    CNNs give the same logits, batch norm (evaluation) and no norm do not."""
    model = CNNClassifier(channels=(4, 8), hidden=(8,), norm=kind, norm_groups=2,
                          rngs=nnx.Rngs(0))  # fmt: skip
    x = _x(6, (3, 28, 28, 1))
    scale = jnp.array([0.5, 3.0, 7.0])[:, None, None, None]
    same = _close(model(scale * x), model(x))
    assert same == (kind in ("layer", "instance", "group")), kind


def test_unknown_norm_is_one_clear_error():
    with pytest.raises(ValueError, match="norm is 'weight'"):
        Norm("weight", 4, rngs=nnx.Rngs(0))


def _both_group_norms(channels, groups, seed=0, **kw):
    """jaxdl's GroupNorm and Flax's, with the same random scale and bias."""
    ours = GroupNorm(channels, num_groups=groups, rngs=nnx.Rngs(0), **kw)
    theirs = nnx.GroupNorm(channels, num_groups=groups, rngs=nnx.Rngs(0), **kw)
    ks, kb = jax.random.split(jax.random.key(seed + 100))
    for norm in (ours, theirs):
        norm.scale[...] = jax.random.normal(ks, (channels,))
        norm.bias[...] = jax.random.normal(kb, (channels,))
    return ours, theirs


@pytest.mark.parametrize(
    "shape, groups",
    [((4, 7, 7, 16), 8), ((3, 5, 6, 12), 3), ((2, 9, 10), 5), ((6, 8), 4), ((2, 3, 3, 8), 8)],
)
def test_group_norm_equals_flax_values_and_gradients(shape, groups):
    ours, theirs = _both_group_norms(shape[-1], groups)
    assert jax.tree.structure(nnx.state(ours)) == jax.tree.structure(nnx.state(theirs))
    x = _x(1, shape)
    assert jnp.allclose(ours(x), theirs(x), atol=2e-5, rtol=1e-5)

    def loss(model, x):
        return jnp.sum(jnp.sin(model(x)))

    g_ours = nnx.grad(loss, argnums=(0, 1))(ours, x)
    g_theirs = nnx.grad(loss, argnums=(0, 1))(theirs, x)
    # Groups of 2 channels (the (6, 8) case) have a tiny variance, whose rounding the
    # gradient amplifies: both sides use the fast variance, summed in another order.
    for a, b in zip(jax.tree.leaves(g_ours), jax.tree.leaves(g_theirs), strict=True):
        assert jnp.allclose(a, b, atol=5e-4, rtol=1e-3)


def test_group_norm_keeps_dtypes_and_takes_flax_path_for_a_mask():
    ours, theirs = _both_group_norms(8, 4, dtype=jnp.bfloat16)
    x = _x(2, (2, 4, 4, 8))
    assert ours(x).dtype == theirs(x).dtype == jnp.bfloat16
    assert jnp.allclose(ours(x).astype(jnp.float32), theirs(x).astype(jnp.float32), atol=0.05)
    ours, theirs = _both_group_norms(8, 4)
    mask = jnp.arange(4 * 4 * 8).reshape(1, 4, 4, 8) % 3 > 0
    assert jnp.array_equal(ours(x, mask=mask), theirs(x, mask=mask))  # Flax's own code
    # No scale or bias: the normalised input itself.
    bare = GroupNorm(8, num_groups=4, use_scale=False, use_bias=False, rngs=nnx.Rngs(0))
    y = bare(x).reshape(2, 16, 4, 2)
    assert jnp.allclose(y.mean((1, 3)), 0.0, atol=1e-5)
    assert jnp.allclose(y.var((1, 3)), 1.0, atol=1e-3)
