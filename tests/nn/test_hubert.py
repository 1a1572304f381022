"""HuBERT-style masked prediction: span masks, the frame encoder, the masked loss, and the
cluster-consistency metrics its targets are scored with."""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl.data.synthetic_speech import speech_batch
from jaxdl.losses import masked_prediction_loss
from jaxdl.metrics import cluster_purity, contingency, normalized_mutual_information
from jaxdl.nn.hubert import (
    FrameEncoder,
    MaskedBatch,
    masked_prediction_metrics,
    masked_prediction_step,
    span_mask,
)
from jaxdl.nn.transformer import TransformerConfig

CFG = TransformerConfig(dim=16, n_layers=2, n_heads=2, hidden_dim=32, dropout=0.0,
                        attention_dropout=0.0, position_embedding_type="sinusoidal")  # fmt: skip


def test_span_mask_spans_lengths_and_rate():
    lengths = jnp.array([200, 50, 0])
    m = np.asarray(span_mask(jax.random.key(0), lengths, time=200, mask_prob=0.1, span=4))
    assert m.shape == (3, 200) and not m[1, 50:].any() and not m[2].any()
    # Every masked run is at least `span` long unless the sequence's end cuts it.
    for row, n in zip(m, (200, 50), strict=False):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row[:n].astype(int), [0]])))
        runs = edges[1::2] - edges[::2]
        ends = edges[1::2]
        assert np.all((runs >= 4) | (ends == n))
    # The masked fraction is 1 - (1 - p)^span on long sequences.
    big = span_mask(jax.random.key(1), jnp.full((64,), 1000), time=1000, mask_prob=0.1, span=4)
    assert abs(float(big.mean()) - (1 - 0.9**4)) < 0.01
    assert not span_mask(jax.random.key(2), lengths, time=200, mask_prob=0.0, span=4).any()


@pytest.mark.parametrize(("kwargs", "match"), [({"mask_prob": 1.5}, "mask_prob is 1.5"),
                                               ({"span": 0}, "span is 0")])  # fmt: skip
def test_span_mask_rejects_bad_settings(kwargs, match):
    settings = {"time": 5, "mask_prob": 0.1, "span": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        span_mask(jax.random.key(0), jnp.array([5]), **settings)


def test_masked_prediction_loss_counts_masked_frames_only():
    logits = jax.random.normal(jax.random.key(0), (2, 5, 4))
    targets = jnp.array([[0, 1, 2, 3, 0], [1, 1, 1, 1, 1]])
    mask = jnp.array([[True, False, True, False, False], [False] * 5])
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    got = masked_prediction_loss(logits, targets, mask)
    np.testing.assert_allclose(got, [(ce[0, 0] + ce[0, 2]) / 2, 0.0], rtol=1e-6)
    # Changing an unmasked frame's logits changes nothing.
    moved = logits.at[0, 1].add(10.0)
    np.testing.assert_allclose(masked_prediction_loss(moved, targets, mask), got, rtol=1e-6)
    with pytest.raises(ValueError, match=r"mask has shape \(2, 4\), expected"):
        masked_prediction_loss(logits, targets, mask[:, :4])
    with pytest.raises(ValueError, match="targets has shape"):
        masked_prediction_loss(logits, targets[0], mask)


def test_frame_encoder_masks_pads_and_checks():
    enc = FrameEncoder(8, 5, CFG, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (2, 6, 8))
    lengths = jnp.array([6, 4])
    chex.assert_shape(enc(x, lengths), (2, 6, 5))
    states = enc.hidden_states(x, lengths)
    assert len(states) == 3
    f = enc.features(x, lengths, layer=2)
    np.testing.assert_array_equal(f[1, 4:], 0.0)
    # Padding frames do not reach the valid ones (masked out of attention).
    garbage = x.at[1, 4:].set(100.0)
    np.testing.assert_allclose(enc.features(garbage, lengths, layer=2)[1, :4], f[1, :4],
                               atol=1e-5)  # fmt: skip
    # A masked frame's input is replaced: its content no longer matters.
    mask = jnp.zeros((2, 6), bool).at[0, 2].set(True)
    a = enc(x, lengths, mask=mask)
    b = enc(x.at[0, 2].set(-50.0), lengths, mask=mask)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(enc(x, lengths), a)
    with pytest.raises(ValueError, match=r"frames has shape \(2, 6, 7\)"):
        enc(x[..., :7], lengths)
    with pytest.raises(ValueError, match="layer is 3, expected 0 <= layer <= 2"):
        enc.features(x, lengths, layer=3)
    with pytest.raises(ValueError, match="mask has shape"):
        enc(x, lengths, mask=mask[:, :5])
    with pytest.raises(ValueError, match="position_embedding_type is 'learned'"):
        FrameEncoder(8, 5, TransformerConfig(dim=16, n_heads=2), rngs=nnx.Rngs(0))


@pytest.mark.slow
def test_masked_prediction_learns_a_predictable_target():
    # Targets = the digit each frame says: from its neighbours a masked frame's digit is
    # often recoverable (digits last 2-4 frames), so training must beat the majority
    # class (silence, about 0.28 of the masked frames) clearly.
    cfg = dataclasses.replace(CFG, dim=64, hidden_dim=128)

    def batch(key, n=32):
        b = speech_batch(key, batch_size=n, max_labels=3, noise=0.5)
        m = span_mask(jax.random.fold_in(key, 1), b.frame_lengths, time=b.frames.shape[1],
                      mask_prob=0.15, span=2)  # fmt: skip
        return MaskedBatch(b.frames, b.frame_lengths, b.frame_symbols, m)

    model = FrameEncoder(16, 11, cfg, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def step(model, opt, key):
        grads = nnx.grad(lambda m: masked_prediction_step(m, batch(key), train=True,
                                                          key=None)[0])(model)  # fmt: skip
        opt.update(model, grads)

    test = batch(jax.random.key(99), 256)
    before = masked_prediction_metrics(model, test)
    for i in range(400):
        step(model, opt, jax.random.key(i))
    after = masked_prediction_metrics(model, test)
    assert float(after["loss"]) < float(before["loss"]) - 0.5  # from ln(11) = 2.40
    assert float(after["masked_accuracy"]) > 0.4
    assert 0.0 <= float(after["unmasked_accuracy"]) <= 1.0


def test_masked_prediction_step_weighs_every_masked_frame_alike():
    enc = FrameEncoder(8, 5, CFG, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (2, 6, 8))
    targets = jnp.array([[0, 1, 2, 3, 4, 0], [1, 1, 1, 1, 1, 1]])
    mask = jnp.array([[True] * 4 + [False] * 2, [False, True] + [False] * 4])
    batch = MaskedBatch(x, jnp.array([6, 6]), targets, mask)
    loss, _ = masked_prediction_step(enc, batch, train=False, key=None)
    ce = optax.softmax_cross_entropy_with_integer_labels(enc(x, batch.frame_lengths, mask=mask),
                                                         targets)  # fmt: skip
    np.testing.assert_allclose(loss, ce[mask].mean(), rtol=1e-5)
    assert float(masked_prediction_metrics(enc, batch)["loss"]) == pytest.approx(float(loss))


def test_cluster_metrics_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 400)
    clusters = np.where(rng.random(400) < 0.7, truth * 2 % 7, rng.integers(0, 7, 400))
    where = rng.random(400) < 0.8
    table = contingency(clusters, truth, num_a=7, num_b=5, where=where)
    want = metrics.cluster.contingency_matrix(truth[where], clusters[where]).T
    np.testing.assert_array_equal(np.asarray(table)[np.asarray(table).sum(1) > 0], want)
    np.testing.assert_allclose(
        normalized_mutual_information(table),
        metrics.normalized_mutual_info_score(truth[where], clusters[where]),
        rtol=1e-5,
    )
    purity = want.max(axis=1).sum() / where.sum()
    np.testing.assert_allclose(cluster_purity(table), purity, rtol=1e-6)


def test_cluster_metrics_edges():
    same = contingency(jnp.array([3, 3, 1]), jnp.array([0, 0, 2]), num_a=4, num_b=3)
    assert float(normalized_mutual_information(same)) == pytest.approx(1.0)
    assert float(cluster_purity(same)) == 1.0
    independent = jnp.ones((2, 2))
    assert float(normalized_mutual_information(independent)) == pytest.approx(0.0, abs=1e-6)
    assert float(cluster_purity(independent)) == 0.5
    with pytest.raises(ValueError, match=r"b has shape \(2,\), expected a's shape \(3,\)"):
        contingency(jnp.zeros(3, int), jnp.zeros(2, int), num_a=1, num_b=1)
    with pytest.raises(ValueError, match="table has shape"):
        cluster_purity(jnp.ones(3))


def test_speech_frame_symbols_say_what_each_frame_is():
    b = speech_batch(jax.random.key(4), batch_size=8, max_labels=4, noise=0.0)
    protos = jax.random.normal(jax.random.key(0), (11, 16)).at[0].set(0.0)
    np.testing.assert_allclose(b.frames, protos[b.frame_symbols]
                               * (b.frame_symbols >= 0)[..., None], atol=1e-6)  # fmt: skip
    for row, n, labels, k in zip(np.asarray(b.frame_symbols), b.frame_lengths, b.labels,
                                 b.label_lengths, strict=True):  # fmt: skip
        assert np.all(row[int(n) :] == 0)
        spoken = [s for i, s in enumerate(row) if s and (i == 0 or row[i - 1] != s)]
        assert spoken == list(np.asarray(labels[: int(k)]))
