"""Positional encodings: sinusoidal against the formula, rotary's relative-position property,
and the encoder with each kind of positions."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn import TransformerConfig, TransformerEncoder, apply_rotary, sinusoidal_positions


@pytest.mark.parametrize(("length", "dim"), [(50, 16), (7, 5), (1, 1), (0, 4)])
def test_sinusoidal_matches_the_formula(length, dim):
    # The paper's formula written out, one entry at a time, in float64.
    expected = np.zeros((length, dim))
    for pos in range(length):
        for i in range((dim + 1) // 2):
            angle = pos / 10000 ** (2 * i / dim)
            expected[pos, 2 * i] = math.sin(angle)
            if 2 * i + 1 < dim:
                expected[pos, 2 * i + 1] = math.cos(angle)
    table = sinusoidal_positions(length, dim)
    chex.assert_shape(table, (length, dim))
    assert table.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(table), expected, atol=1e-7, rtol=0)


def _rotation_matrix(pos: int, dim: int, base: float = 10000.0) -> np.ndarray:
    """Block-diagonal 2x2 rotations of RoFormer's eq. (15), built entry by entry."""
    r = np.zeros((dim, dim))
    for i in range(dim // 2):
        c, s = math.cos(pos * base ** (-2 * i / dim)), math.sin(pos * base ** (-2 * i / dim))
        r[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
    return r


def test_rotary_is_the_block_rotation_and_keeps_norms():
    x = np.random.default_rng(0).normal(size=(2, 3, 9, 8)).astype(np.float32)  # B, H, T, D
    y = np.asarray(apply_rotary(x, jnp.arange(9)))
    expected = np.stack([x[:, :, t] @ _rotation_matrix(t, 8).T for t in range(9)], axis=2)
    np.testing.assert_allclose(y, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(y[:, :, 0], x[:, :, 0])  # position 0: no rotation
    # The (batch, seq, heads, head_dim) layout with positions[:, None] gives the same.
    y2 = apply_rotary(x.transpose(0, 2, 1, 3), jnp.arange(9)[:, None]).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(np.asarray(y2), y, atol=1e-6, rtol=0)


def test_rotary_scores_depend_only_on_the_offset():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(2, 16)).astype(np.float32)

    def score(m, n):
        rq = apply_rotary(q[None], jnp.array([m]))[0]
        rk = apply_rotary(k[None], jnp.array([n]))[0]
        return float(rq @ rk)

    for m, n in [(0, 0), (3, 7), (10, 2), (100, 131)]:
        base = score(m, n)
        for shift in (1, 5, 37, 1000):
            assert score(m + shift, n + shift) == pytest.approx(base, abs=1e-4)
    # ... and does depend on the offset: otherwise the property above would be vacuous.
    offsets = [score(0, d) for d in range(6)]
    assert np.ptp(offsets) > 0.1
    # The score at offset d is q^T R(d) k, the closed form of the rotation.
    assert score(4, 9) == pytest.approx(float(q @ _rotation_matrix(5, 16) @ k), abs=1e-4)


def test_rotary_under_jit_with_traced_positions_and_bfloat16():
    x = jax.random.normal(jax.random.key(0), (4, 6, 8))
    f = jax.jit(lambda x, offset: apply_rotary(x, offset + jnp.arange(6)))
    np.testing.assert_allclose(
        np.asarray(f(x, 3)), np.asarray(apply_rotary(x, jnp.arange(3, 9))), atol=1e-6
    )
    y = apply_rotary(x.astype(jnp.bfloat16), jnp.arange(6))
    assert y.dtype == jnp.bfloat16


def test_bad_inputs_are_one_sentence():
    with pytest.raises(ValueError, match=r"x has shape \(2, 5\), expected an even last axis"):
        apply_rotary(jnp.ones((2, 5)), jnp.arange(2))
    with pytest.raises(ValueError, match="positions has dtype float32, expected integer"):
        apply_rotary(jnp.ones((2, 4)), jnp.arange(2.0))
    with pytest.raises(ValueError, match=r"positions has shape \(3,\), expected one that"):
        apply_rotary(jnp.ones((2, 4)), jnp.arange(3))
    with pytest.raises(ValueError, match="base is 1.0, expected a number > 1"):
        apply_rotary(jnp.ones((2, 4)), jnp.arange(2), base=1.0)
    with pytest.raises(ValueError, match="length is -1, expected an integer >= 0"):
        sinusoidal_positions(-1, 4)
    with pytest.raises(ValueError, match="dim is 0, expected an integer >= 1"):
        sinusoidal_positions(3, 0)


def _config(kind, **overrides):
    sizes = dict(vocab_size=30, dim=16, n_layers=2, n_heads=2, hidden_dim=32)
    return TransformerConfig(
        **sizes, max_position_embeddings=10, position_embedding_type=kind, **overrides
    )


def _model(kind, **overrides):
    """An encoder whose query and key weights are 20x the initial N(0, 0.02): with scores
    of order 1, attention depends visibly on positions (at init it is nearly uniform)."""
    graphdef, state = nnx.split(TransformerEncoder(_config(kind, **overrides), rngs=nnx.Rngs(0)))

    def sharpen(path, x):
        names = {getattr(p, "key", None) for p in path}
        return x * 20 if {"q_lin", "kernel"} <= names or {"k_lin", "kernel"} <= names else x

    return nnx.merge(graphdef, jax.tree_util.tree_map_with_path(sharpen, state))


def _n_params(model):
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


@pytest.mark.parametrize("kind", ["learned", "sinusoidal", "rotary"])
def test_encoder_runs_under_jit_with_each_kind(kind):
    model = _model(kind)
    graphdef, state = nnx.split(model)

    traces = []

    @jax.jit
    def forward(state, ids, mask):
        traces.append(1)
        return nnx.merge(graphdef, state)(ids, mask)

    ids = jax.random.randint(jax.random.key(1), (3, 10), 1, 30)
    mask = jnp.ones((3, 10), jnp.int32).at[1, 6:].set(0)
    h = forward(state, ids, mask)
    forward(state, ids[::-1], mask)
    assert len(traces) == 1  # the kind is static: new values do not retrace
    chex.assert_shape(h, (3, 10, 16))
    chex.assert_tree_all_finite(h)
    np.testing.assert_allclose(np.asarray(h), np.asarray(model(ids, mask)), atol=1e-5)
    # Positions matter: the same tokens in reverse order give other vectors (a model
    # without positions would just reverse its output rows).
    rev = forward(state, ids[:, ::-1], jnp.ones_like(mask))
    full = forward(state, ids, jnp.ones_like(mask))
    assert np.abs(np.asarray(rev[:, ::-1]) - np.asarray(full)).max() > 1e-3
    # Only the learned kind has a position table among its parameters.
    table = 10 * 16 if kind == "learned" else 0
    assert (
        _n_params(model)
        == _n_params(TransformerEncoder(_config("rotary"), rngs=nnx.Rngs(0))) + table
    )


@pytest.mark.parametrize("kind", ["learned", "sinusoidal", "rotary"])
def test_only_rotary_encoder_is_shift_invariant(kind):
    # The same 6 tokens, alone and after 4 masked (left-padding) slots: masked keys get
    # zero attention, so with rotary positions only the offsets between the real tokens
    # matter and their vectors are the same; absolute positions (learned, sinusoidal)
    # give other vectors when the tokens move.
    model = _model(kind)
    ids = jax.random.randint(jax.random.key(2), (1, 6), 1, 30)
    alone = np.asarray(model(ids))[0]
    shifted_ids = jnp.concatenate([jnp.zeros((1, 4), ids.dtype), ids], axis=1)
    mask = jnp.array([[0] * 4 + [1] * 6])
    shifted = np.asarray(model(shifted_ids, mask))[0, 4:]
    if kind == "rotary":
        np.testing.assert_allclose(shifted, alone, atol=2e-5, rtol=0)
    else:
        assert np.abs(shifted - alone).max() > 1e-2


def test_length_limits():
    ids = jnp.ones((1, 11), jnp.int32)
    for kind in ("learned", "sinusoidal"):
        model = TransformerEncoder(_config(kind), rngs=nnx.Rngs(0))
        with pytest.raises(
            ValueError,
            match=r"input_ids has shape \(1, 11\): 11 tokens, expected at most "
            r"max_position_embeddings=10",
        ):
            model(ids)
    # Rotary positions have no table: a longer sequence runs.
    h = TransformerEncoder(_config("rotary"), rngs=nnx.Rngs(0))(jnp.ones((1, 25), jnp.int32))
    chex.assert_shape(h, (1, 25, 16))


def test_config_errors_and_default():
    assert TransformerConfig().position_embedding_type == "learned"
    with pytest.raises(ValueError, match="position_embedding_type is 'alibi', expected one of"):
        _config("alibi")
    with pytest.raises(ValueError, match="head_dim is 3 .* expected an even number for rotary"):
        TransformerConfig(dim=6, n_heads=2, position_embedding_type="rotary")
