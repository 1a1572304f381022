"""The character-level language models."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl.nn.char_lm import MLPLanguageModel, WaveNetLanguageModel, build_char_lm


def mean_loss(model, block_size, *, train=False):
    idx = jax.random.randint(jax.random.key(0), (512, block_size), 0, 27)
    y = jax.random.randint(jax.random.key(1), (512,), 0, 27)
    logits = model(idx, train=train)
    return float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())


@pytest.mark.parametrize(
    "model",
    [
        MLPLanguageModel(block_size=3, init="scaled", rngs=nnx.Rngs(0)),
        WaveNetLanguageModel(block_size=8, n_embd=24, n_hidden=128, rngs=nnx.Rngs(0)),
    ],
    ids=["mlp-scaled", "wavenet"],
)
def test_untrained_loss_is_about_log_vocab(model):
    assert abs(mean_loss(model, model.block_size) - math.log(27)) < 0.05


def test_seed_init_starts_far_from_uniform():
    # The seed's N(0, 1) output layer gives confident, wrong guesses: the loss the
    # seed's notebook reports before training is about 20, not log(27).
    assert mean_loss(MLPLanguageModel(rngs=nnx.Rngs(0)), 3) > 10


def test_mlp_is_the_bengio_formula():
    m = MLPLanguageModel(block_size=2, n_embd=3, n_hidden=4, rngs=nnx.Rngs(0))
    idx = jnp.array([[0, 5], [7, 26]])
    emb = np.concatenate([np.asarray(m.C[...])[idx[:, 0]], np.asarray(m.C[...])[idx[:, 1]]], 1)
    h = np.tanh(emb @ np.asarray(m.W1[...]) + np.asarray(m.b1[...]))
    expected = h @ np.asarray(m.W2[...]) + np.asarray(m.b2[...])
    np.testing.assert_allclose(m(idx), expected, rtol=1e-5, atol=1e-5)


def test_wavenet_merges_pairs_of_positions():
    # With the second level's weights zeroed on one half, the output can only depend on
    # the positions that feed the other half: the tree structure, made visible.
    m = WaveNetLanguageModel(block_size=4, n_embd=2, n_hidden=3, rngs=nnx.Rngs(0))
    w = np.array(m.weights[1][...])
    w[3:] = 0.0  # rows of the second pair (positions 2, 3)
    m.weights[1][...] = jnp.asarray(w)
    a = m(jnp.array([[1, 2, 3, 4]]))
    b = m(jnp.array([[1, 2, 9, 9]]))
    c = m(jnp.array([[9, 2, 3, 4]]))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(a, c)


def test_wavenet_batchnorm_updates_only_in_training():
    m = WaveNetLanguageModel(block_size=2, n_embd=4, n_hidden=8, rngs=nnx.Rngs(0))
    before = np.asarray(m.norms[0].mean[...]).copy()
    m(jnp.ones((4, 2), jnp.int32))
    np.testing.assert_array_equal(m.norms[0].mean[...], before)
    m(jnp.ones((4, 2), jnp.int32), train=True)
    assert not np.array_equal(m.norms[0].mean[...], before)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: WaveNetLanguageModel(block_size=6, rngs=nnx.Rngs(0)), "power of two"),
        (lambda: MLPLanguageModel(block_size=0, rngs=nnx.Rngs(0)), "block_size is 0"),
        (lambda: MLPLanguageModel(init="xavier", rngs=nnx.Rngs(0)), "init is 'xavier'"),
        (
            lambda: build_char_lm("rnn", block_size=3, n_embd=2, n_hidden=2, rngs=nnx.Rngs(0)),
            "kind is 'rnn'",
        ),
    ],
)
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_context_shape_and_dtype():
    m = MLPLanguageModel(block_size=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"idx has shape \(2, 4\), expected \(batch, 3\)"):
        m(jnp.zeros((2, 4), jnp.int32))
    with pytest.raises(ValueError, match="idx has dtype float32"):
        m(jnp.zeros((2, 3)))
