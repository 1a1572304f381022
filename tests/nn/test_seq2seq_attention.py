"""Encoder-decoder attention in the GRU seq2seq: weights, masks, shapes, jit/vmap, errors."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.data.addition import VOCAB_SIZE, addition_batch
from jaxdl.nn.seq2seq import Seq2Seq, attend, seq2seq_metrics, teacher_forced_loss

KINDS = ("additive", "dot")


@pytest.mark.parametrize("kind", KINDS)
def test_weights_are_distributions_over_the_source(kind):
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, attention=kind, rngs=nnx.Rngs(0))
    b = addition_batch(jax.random.key(1), batch_size=6, digits=3)  # src 7, tgt 4
    logits, weights = nnx.jit(lambda m: m(b.source, b.target_inputs, return_attention=True))(model)
    chex.assert_shape(logits, (6, 4, VOCAB_SIZE))
    chex.assert_shape(weights, (6, 4, 7))
    assert bool(jnp.all(weights >= 0))
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    free, free_w = model.generate(b.source, start=b.target_inputs[:, 0], length=5,
                                  return_attention=True)  # fmt: skip
    chex.assert_shape(free, (6, 5, VOCAB_SIZE))
    chex.assert_shape(free_w, (6, 5, 7))
    np.testing.assert_allclose(free_w.sum(-1), 1.0, atol=1e-6)
    # Without return_attention only the logits come back, the same ones.
    np.testing.assert_array_equal(model(b.source, b.target_inputs), logits)


@pytest.mark.parametrize("kind", KINDS)
def test_open_loop_is_teacher_forcing_on_its_own_predictions(kind):
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, attention=kind, rngs=nnx.Rngs(2))
    b = addition_batch(jax.random.key(3), batch_size=8, digits=2)
    start = b.target_inputs[:, 0]
    free, free_w = model.generate(b.source, start=start, length=3, return_attention=True)
    own = jnp.concatenate([start[:, None], jnp.argmax(free, -1)[:, :-1]], axis=1)
    forced, forced_w = model(b.source, own, return_attention=True)
    np.testing.assert_allclose(forced, free, atol=1e-5)
    np.testing.assert_allclose(forced_w, free_w, atol=1e-6)
    # Causality: a later decoder input leaves earlier steps (logits and weights) alone.
    changed = b.target_inputs.at[:, 2].set(0)
    a, wa = model(b.source, changed, return_attention=True)
    c, wc = model(b.source, b.target_inputs, return_attention=True)
    np.testing.assert_allclose(a[:, :2], c[:, :2], atol=1e-6)
    np.testing.assert_allclose(wa[:, :2], wc[:, :2], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_masked_positions_get_no_weight(kind):
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, attention=kind, rngs=nnx.Rngs(4))
    b = addition_batch(jax.random.key(5), batch_size=4, digits=3)
    # Left padding of different widths per example (the encoder reads the pads first).
    mask = jnp.arange(7)[None, :] >= jnp.array([0, 1, 2, 3])[:, None]
    _, w = model(b.source, b.target_inputs, source_mask=mask, return_attention=True)
    _, g = model.generate(b.source, start=b.target_inputs[:, 0], length=4,
                          source_mask=mask, return_attention=True)  # fmt: skip
    for weights in (w, g):
        assert float(jnp.abs(jnp.where(mask[:, None, :], 0.0, weights)).max()) == 0.0
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    unmasked = model(b.source, b.target_inputs, return_attention=True)[1]
    assert not np.allclose(unmasked[1:], w[1:])  # the mask did change the weights


def test_attend_ignores_masked_values_and_stays_finite():
    scores = jax.random.normal(jax.random.key(0), (3, 5))
    values = jax.random.normal(jax.random.key(1), (3, 5, 4))
    where = jnp.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
    context, weights = attend(scores, values, where=where)
    other = values.at[:2].set(jnp.where(where[:2, :, None], values[:2], 1e3))
    np.testing.assert_allclose(attend(scores, other, where=where)[0][:2], context[:2],
                               rtol=1e-6)  # fmt: skip
    expected = jax.nn.softmax(jnp.where(where, scores, -jnp.inf)[:2], axis=-1)
    np.testing.assert_allclose(weights[:2], expected, rtol=1e-6)
    np.testing.assert_allclose(weights[2], 0.2, rtol=1e-6)  # all masked: uniform, not NaN
    assert bool(jnp.all(jnp.isfinite(context)))


@pytest.mark.parametrize("kind", KINDS)
def test_vmap_over_examples_matches_the_batch(kind):
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, attention=kind, rngs=nnx.Rngs(6))
    b = addition_batch(jax.random.key(7), batch_size=5, digits=2)
    one = nnx.vmap(lambda m, s, t: m(s[None], t[None], return_attention=True),
                   in_axes=(None, 0, 0))  # fmt: skip
    logits, weights = jax.tree.map(lambda x: x[:, 0], one(model, b.source, b.target_inputs))
    want_logits, want_weights = model(b.source, b.target_inputs, return_attention=True)
    np.testing.assert_allclose(logits, want_logits, atol=1e-5)
    np.testing.assert_allclose(weights, want_weights, atol=1e-6)


def test_longer_sources_and_targets_than_built_for():
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, attention="additive", rngs=nnx.Rngs(8))
    metrics = nnx.jit(seq2seq_metrics)
    for digits in (2, 5):  # nothing in the model depends on the lengths
        m = metrics(model, addition_batch(jax.random.key(digits), batch_size=4, digits=digits))
        assert set(m) == {f"{a}_{u}_accuracy" for a in ("teacher_forced", "open_loop")
                          for u in ("token", "sequence")}  # fmt: skip


def _param_shapes(model):
    return {
        "/".join(map(str, p)): v.shape for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }


def test_plain_model_is_unchanged_in_shape_and_rejects_attention_arguments():
    plain = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, rngs=nnx.Rngs(0))
    shapes = {
        "/".join(map(str, p)): v.shape for p, v in nnx.to_flat_state(nnx.state(plain, nnx.Param))
    }
    # The attention-free parameters: decoder input = embedding only, readout = state only.
    assert shapes["decoder/cell/dense_i/kernel"] == (8, 3 * 16)  # the three gates
    assert shapes["out/kernel"] == (16, VOCAB_SIZE)
    assert not any(k.startswith("attention") for k in shapes)
    attentive = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, attention="additive", rngs=nnx.Rngs(0))
    a = {
        "/".join(map(str, p)): v.shape
        for p, v in nnx.to_flat_state(nnx.state(attentive, nnx.Param))
    }
    assert a["decoder/cell/dense_i/kernel"] == (8 + 16, 3 * 16)
    assert a["out/kernel"] == (16 + 16, VOCAB_SIZE)
    b = addition_batch(jax.random.key(0), batch_size=2, digits=2)
    with pytest.raises(ValueError, match="need a model with attention"):
        plain(b.source, b.target_inputs, return_attention=True)
    with pytest.raises(ValueError, match="need a model with attention"):
        plain.generate(b.source, start=b.target_inputs[:, 0], length=2,
                       source_mask=jnp.ones_like(b.source, bool))  # fmt: skip


def test_bad_attention_kind_and_mask_shape():
    with pytest.raises(
        ValueError, match=r"attention must be None, 'additive' or 'dot', got 'luong'"
    ):
        Seq2Seq(VOCAB_SIZE, hidden=8, attention="luong", rngs=nnx.Rngs(0))
    model = Seq2Seq(VOCAB_SIZE, hidden=8, attention="dot", rngs=nnx.Rngs(0))
    b = addition_batch(jax.random.key(0), batch_size=2, digits=2)
    with pytest.raises(ValueError, match=r"source_mask has shape \(2, 4\), expected"):
        model(b.source, b.target_inputs, source_mask=jnp.ones((2, 4), bool))


@pytest.mark.slow
def test_attention_copies_what_the_bottleneck_cannot():
    """Copying 10 random digits, 300 steps, same seed and data: with additive attention
    the decoder reads each digit off its encoder state (measured 1.000 open loop), the
    plain model has to pass all ten through its final state (measured 0.387)."""
    import optax

    from jaxdl.data.addition import EQUALS, AdditionBatch

    def copy_batch(key, n=64):
        s = jax.random.randint(key, (n, 10), 0, 10)
        return AdditionBatch(s, jnp.concatenate([jnp.full((n, 1), EQUALS), s[:, :-1]], 1), s)

    def open_loop_accuracy(kind):
        model = Seq2Seq(VOCAB_SIZE, hidden=32, embed=16, attention=kind, rngs=nnx.Rngs(0))
        opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

        @nnx.jit
        def step(model, opt, key):
            b = copy_batch(key)
            loss_fn = lambda m: teacher_forced_loss(m, b, train=True, key=None)[0]  # noqa: E731
            loss, grads = nnx.value_and_grad(loss_fn)(model)
            opt.update(model, grads)
            return loss

        for i in range(300):
            step(model, opt, jax.random.key(i))
        metrics = nnx.jit(seq2seq_metrics)(model, copy_batch(jax.random.key(10**6), 512))
        return float(metrics["open_loop_token_accuracy"])

    attentive, plain = open_loop_accuracy("additive"), open_loop_accuracy(None)
    assert attentive > 0.95
    assert attentive > plain + 0.3
