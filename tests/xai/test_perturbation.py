"""Perturbation curves, AOPC and heatmaps on hand-made inputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.xai import (
    area_over_curve,
    candidate_mask,
    heatmap_html,
    perturbation_curve,
    perturbed_inputs,
    save_heatmap_png,
)

CLS, SEP, PAD, UNK = 101, 102, 0, 100


def test_candidates_skip_special_and_padding():
    ids = jnp.array([[CLS, 5, 6, SEP, PAD]])
    mask = jnp.array([[1, 1, 1, 1, 0]])
    assert candidate_mask(ids, mask, [CLS, SEP, PAD]).tolist() == [
        [False, True, True, False, False]
    ]


def test_steps_follow_each_examples_own_token_count():
    ids = jnp.array([[CLS, 1, 2, 3, 4, SEP], [CLS, 7, 8, SEP, PAD, PAD]])
    mask = (ids != PAD).astype(jnp.int32)
    rel = jnp.array([[0.0, 1.0, 4.0, 3.0, 2.0, 9.0], [9.0, -1.0, 5.0, 9.0, 9.0, 9.0]])
    cand = candidate_mask(ids, mask, [CLS, SEP, PAD])
    fractions, out = perturbed_inputs(ids, rel, cand, replacement_id=UNK, num_steps=2)
    np.testing.assert_allclose(fractions, [0.0, 0.5, 1.0])
    assert out[0].tolist() == [
        [CLS, 1, 2, 3, 4, SEP],
        [CLS, 1, UNK, UNK, 4, SEP],  # top 2 of 4
        [CLS, UNK, UNK, UNK, UNK, SEP],
    ]
    # 1 of 2 at half (round(1.0)); special and padding never change, whatever their score.
    assert out[1].tolist() == [
        [CLS, 7, 8, SEP, PAD, PAD],
        [CLS, 7, UNK, SEP, PAD, PAD],
        [CLS, UNK, UNK, SEP, PAD, PAD],
    ]


def test_true_relevance_beats_random_on_an_additive_model():
    # The output is a weighted sum over tokens, [UNK] contributes 0: the weights are the
    # exact relevances, so removing by them gives the steepest curve.
    rng = np.random.default_rng(0)
    b, t = 16, 12
    ids = jnp.asarray(rng.integers(1, 50, (b, t)))
    weights = jnp.asarray(rng.normal(size=50)).at[0].set(0.0)  # id 0 is the [UNK] here
    mask = jnp.ones((b, t), jnp.int32)
    cand = mask > 0

    def score(i, m, example):
        return (weights[i] * m).sum(-1)

    exact = perturbation_curve(score, ids, mask, weights[ids], cand, replacement_id=0)
    random = perturbation_curve(
        score, ids, mask, jax.random.uniform(jax.random.key(0), (b, t)), cand, replacement_id=0
    )
    reverse = perturbation_curve(score, ids, mask, -weights[ids], cand, replacement_id=0)
    assert exact.values.shape == (b, 11)
    np.testing.assert_allclose(exact.values[:, -1], 0.0, atol=1e-6)  # everything replaced
    assert float(exact.aopc) > float(random.aopc) > float(reverse.aopc)


def test_bad_shapes():
    with pytest.raises(
        ValueError, match=r"values has shape \(3,\), expected \(batch, steps >= 2\)"
    ):
        area_over_curve(jnp.ones(3))
    with pytest.raises(ValueError, match="must have the same"):
        perturbed_inputs(
            jnp.ones((1, 3), int),
            jnp.ones((1, 4)),
            jnp.ones((1, 3), bool),
            replacement_id=UNK,
            num_steps=2,
        )


def test_heatmaps(tmp_path):
    page = heatmap_html([["<b>", "ok"]], [[-2.0, 1.0]], captions=["x & y"])
    assert "&lt;b&gt;" in page and "x &amp; y" in page
    assert "rgb(0,0,255)" in page and "rgb(255,127,127)" in page  # scaled by max |r| = 2
    with pytest.raises(ValueError, match="text 0 has 2 tokens but 1 relevances"):
        heatmap_html([["a", "b"]], [[1.0]])
    path = save_heatmap_png([["a", "b"], ["c"]], [[1.0, -1.0], [0.0]], tmp_path / "h.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
