"""Metric-learning losses: hand-checked values, gradients at zero distance, masks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.losses import batch_hard_triplet_loss, pairwise_contrastive_loss, triplet_margin_loss

RNG = np.random.default_rng(0)
emb = RNG.normal(size=(12, 4)).astype(np.float32)
lab = np.repeat(np.arange(3), 4)


def test_batch_hard_picks_the_hardest_triplet_of_each_anchor():
    got = np.asarray(batch_hard_triplet_loss(emb, lab, margin=0.3))
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    for i in range(12):
        pos = max(d[i, j] for j in range(12) if lab[j] == lab[i] and j != i)
        neg = min(d[i, j] for j in range(12) if lab[j] != lab[i])
        want = float(triplet_margin_loss(emb[i], emb[np.argmax(np.where(lab == lab[i], d[i], -1))],
                                         emb[np.argmin(np.where(lab != lab[i], d[i], np.inf))],
                                         margin=0.3))  # fmt: skip
        assert got[i] == pytest.approx(max(pos - neg + 0.3, 0.0), abs=1e-5)
        assert got[i] == pytest.approx(want, abs=1e-5)


def test_anchor_without_positive_or_negative_costs_nothing():
    loss = batch_hard_triplet_loss(emb[:3], np.array([0, 1, 1]), margin=0.3)
    assert float(loss[0]) == 0.0  # class 0 has a single example
    assert float(batch_hard_triplet_loss(emb[:3], np.zeros(3), margin=0.3).sum()) == 0.0


def test_contrastive_loss_matches_its_definition():
    got = np.asarray(pairwise_contrastive_loss(emb, lab, margin=2.0))
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    terms = np.where(lab[:, None] == lab[None], d**2, np.maximum(2.0 - d, 0) ** 2)
    np.fill_diagonal(terms, 0.0)
    np.testing.assert_allclose(got, terms.sum(1) / 11, rtol=1e-5)


def test_gradients_are_finite_for_identical_embeddings():
    same = jnp.ones((4, 3))
    labels = jnp.array([0, 0, 1, 1])
    for fn in (batch_hard_triplet_loss, pairwise_contrastive_loss):
        g = jax.grad(lambda e, fn=fn: fn(e, labels, margin=0.5).sum())(same)
        assert bool(jnp.all(jnp.isfinite(g)))


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="labels"):
        batch_hard_triplet_loss(emb, lab[:5])
    with pytest.raises(ValueError, match="negative"):
        triplet_margin_loss(emb, emb, emb[:, :2])
