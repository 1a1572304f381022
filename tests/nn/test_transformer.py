"""Transformer blocks on a tiny config: paths into the forward, dropout, config errors."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn.bert import DistilBertClassifier, l2_normalize, mean_pool
from jaxdl.nn.transformer import TransformerConfig, gelu

CFG = TransformerConfig(
    vocab_size=30, dim=8, n_layers=1, n_heads=2, hidden_dim=16, max_position_embeddings=12
)


@pytest.fixture(scope="module")
def model():
    return DistilBertClassifier(CFG, rngs=nnx.Rngs(0))


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_ids_and_embeddings_paths_agree(model):
    ids = jnp.array([[1, 4, 5, 0], [2, 3, 0, 0]])
    mask = (ids != 0).astype(jnp.int32)
    emb = model.encoder.embeddings(ids)
    chex.assert_trees_all_close(model(ids, mask), model(embeddings=emb, attention_mask=mask))
    # Padding is invisible: the unpadded second row gives the same logits.
    chex.assert_trees_all_close(model(ids[1:, :2])[0], model(ids, mask)[1], atol=1e-6)


def test_dropout_needs_a_key_and_uses_it(model):
    ids = jnp.ones((2, 5), jnp.int32)
    with pytest.raises(ValueError, match="key is None"):
        model(ids, train=True)
    a = model(ids, train=True, key=jax.random.key(0))
    b = model(ids, train=True, key=jax.random.key(1))
    assert not np.allclose(a, b)
    chex.assert_trees_all_close(a, model(ids, train=True, key=jax.random.key(0)))


def test_bad_inputs_are_one_sentence(model):
    with pytest.raises(ValueError, match=r"13 tokens, expected at most max_position_embeddings=12"):
        model(jnp.ones((1, 13), jnp.int32))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(1, 3\), expected \(1, 4\)"):
        model(jnp.ones((1, 4), jnp.int32), jnp.ones((1, 3), jnp.int32))
    with pytest.raises(ValueError, match="exactly one of input_ids and embeddings"):
        model()
    with pytest.raises(ValueError, match="expected a multiple of n_heads=3"):
        TransformerConfig(dim=8, n_heads=3)


def test_functions():
    x = jnp.linspace(-4, 4, 9)
    np.testing.assert_allclose(gelu(x), jax.nn.gelu(x, approximate=False), atol=1e-6)
    # The detached gate: gradient is Phi(x), the value is unchanged, no division by zero.
    np.testing.assert_allclose(
        jax.grad(lambda v: gelu(v, detach=True).sum())(x),
        gelu(x) / jnp.where(x == 0, 1, x) + (x == 0) * 0.5,
        atol=1e-6,
    )
    h = jnp.arange(12.0).reshape(1, 3, 4)
    np.testing.assert_allclose(mean_pool(h, jnp.array([[1, 1, 0]])), [[2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_allclose(jnp.linalg.norm(l2_normalize(h), axis=-1), 1.0, rtol=1e-6)


def test_hidden_states_are_the_same_with_remat():
    import dataclasses

    from jaxdl.nn.transformer import TransformerEncoder
    from jaxdl.parallel import remat_policy

    cfg = dataclasses.replace(CFG, n_layers=3)
    plain = TransformerEncoder(cfg, rngs=nnx.Rngs(0))
    remat = TransformerEncoder(
        dataclasses.replace(cfg, remat=remat_policy("nothing")), rngs=nnx.Rngs(0)
    )
    ids = jnp.array([[1, 4, 5, 0], [2, 3, 0, 0]])
    last, states = plain(ids, output_hidden_states=True)
    last_r, probs_r, states_r = remat(ids, return_attention=True, output_hidden_states=True)
    assert len(states) == len(states_r) == 4 and len(probs_r) == 3
    chex.assert_trees_all_close(states, states_r, atol=1e-6)
    chex.assert_trees_all_close(states[0], plain.embeddings(ids))
    chex.assert_trees_all_close(states[-1], last)
    chex.assert_trees_all_close(last_r, last, atol=1e-6)
