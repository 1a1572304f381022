"""The causal decoder (GPT-2 layout), the character GPT and their cached sampler."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.charlm import sample, sample_cached, seq_lm_loss, whole_words
from jaxdl.nn.char_lm import CharGPT, build_char_lm, left_aligned
from jaxdl.nn.decoder import GPT, GPTConfig

SMALL = dict(n_embd=16, n_hidden=32, n_layer=2, n_head=2)


def _gpt(**overrides) -> GPT:
    config = GPTConfig(**{**dict(n_positions=8, n_embd=16, n_layer=2, n_head=2), **overrides})
    return GPT(config, rngs=nnx.Rngs(0))


def test_output_is_causal():
    gpt = _gpt()
    ids = jax.random.randint(jax.random.key(0), (2, 8), 0, 27)
    changed = ids.at[:, 5].set((ids[:, 5] + 1) % 27)
    a, b = gpt(ids), gpt(changed)
    np.testing.assert_array_equal(a[:, :5], b[:, :5])  # earlier positions cannot see it
    assert not np.allclose(a[:, 5:], b[:, 5:])


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_decode_with_the_cache_equals_the_full_forward():
    gpt = _gpt()
    ids = jax.random.randint(jax.random.key(1), (3, 8), 0, 27)
    full = gpt(ids)
    cache = gpt.init_cache(3)
    for t in range(8):
        logits, cache = gpt.decode(ids[:, t], jnp.asarray(t), cache)
        np.testing.assert_allclose(logits, full[:, t], atol=1e-5, rtol=0)


@pytest.mark.parametrize("head_dim", [0, 16])
def test_narrow_and_wide_heads(head_dim):
    gpt = _gpt(head_dim=head_dim)
    d_head = 8 if head_dim == 0 else 16
    assert gpt.h[0].attn.c_attn.kernel.shape == (16, 3 * 2 * d_head)
    assert gpt.h[0].attn.c_proj.kernel.shape == (2 * d_head, 16)
    assert gpt(jnp.zeros((1, 4), jnp.int32)).shape == (1, 4, 27)


def test_a_sequence_longer_than_the_position_table_is_refused():
    with pytest.raises(ValueError, match=r"ids has 9 positions, expected at most n_positions=8"):
        _gpt()(jnp.zeros((1, 9), jnp.int32))
    with pytest.raises(ValueError, match=r"max_length is 10, expected at most 9"):
        sample_cached(_gpt(), key=jax.random.key(0), num_samples=2, max_length=10)
    with pytest.raises(ValueError, match="n_embd is 10 with n_head 4"):
        GPTConfig(n_embd=10, n_head=4)


def test_padding_does_not_change_a_words_logits():
    model = CharGPT(block_size=8, **SMALL, rngs=nnx.Rngs(0))
    word = jnp.array([[0, 5, 13, 13]])  # '.emm': start token and prefix
    windows = jnp.array([[0, 0, 0, 0, 0, 5, 13, 13]])  # the same prefix, left-padded
    np.testing.assert_allclose(model(windows), model.gpt(word)[:, -1], atol=1e-5, rtol=0)
    positions, valid = left_aligned(windows)
    assert positions.tolist() == [[0, 0, 0, 0, 0, 1, 2, 3]]
    assert valid.tolist() == [[False] * 4 + [True] * 4]


def test_cached_samples_equal_full_recomputation_and_the_window_sampler():
    model = CharGPT(block_size=12, **SMALL, rngs=nnx.Rngs(0))
    key = jax.random.key(7)
    cached = sample_cached(model, key=key, num_samples=300)
    full = sample_cached(model, key=key, num_samples=300, use_cache=False)
    windows = sample(model, key=key, num_samples=300, max_length=13)
    assert cached.shape == (300, 13) and bool((cached[:, -1] == 0).all())
    np.testing.assert_array_equal(cached, full)
    np.testing.assert_array_equal(cached, windows)
    assert len({tuple(r) for r in np.asarray(cached).tolist()}) > 250  # really random
    # Row i depends only on fold_in(key, i), as sample()'s rows.
    np.testing.assert_array_equal(sample_cached(model, key=key, num_samples=5), cached[:5])


def test_sequence_loss_skips_the_padding_and_sees_every_position():
    model = build_char_lm(
        "transformer", block_size=6, n_embd=16, n_hidden=32, n_layer=1, n_head=2, rngs=nnx.Rngs(0)
    )
    x = jnp.array([[0, 0, 0, 1, 2, 3], [4, 5, 6, 7, 8, 9]])
    y = jnp.array([0, 10])
    loss, _ = seq_lm_loss(model, {"x": x, "y": y}, train=True, key=None)
    logp = jax.nn.log_softmax(model.sequence_logits(x))
    # Row 0: the start token (index 2) and after; row 1 has no padding: every position.
    targets = [(0, 2, 1), (0, 3, 2), (0, 4, 3), (0, 5, 0)] + [
        (1, t, tgt) for t, tgt in enumerate([5, 6, 7, 8, 9, 10])
    ]
    expected = -np.mean([logp[b, t, c] for b, t, c in targets])
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    data = whole_words({"x": x, "y": y})
    assert data["x"].tolist() == [[0, 0, 0, 1, 2, 3]]
