"""Impurities and the vectorised best split; MLE vs MAP linear regression."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxdl.classic import (
    best_split,
    entropy,
    fit_tree,
    gini,
    information_gain,
    map_weights,
    mle_weights,
    posterior,
    predict_tree,
    predictive,
)


def brute_force_split(x, y, num_classes, impurity):
    """The best split by looping over every feature and every midpoint."""
    counts = lambda labels: np.bincount(labels, minlength=num_classes).astype(float)  # noqa: E731
    parent = float(impurity(counts(y)))
    best = (-np.inf, None, None)
    for f in range(x.shape[1]):
        values = np.unique(x[:, f])
        for t in (values[:-1] + values[1:]) / 2:
            left, right = y[x[:, f] <= t], y[x[:, f] > t]
            child = len(left) * float(impurity(counts(left))) + len(right) * float(
                impurity(counts(right))
            )
            gain = parent - child / len(y)
            if gain > best[0] + 1e-6:
                best = (gain, f, t)
    return best


def test_impurities_of_known_distributions():
    assert float(entropy(np.array([1.0, 1, 1, 1]))) == pytest.approx(2.0)
    assert float(gini(np.array([1.0, 1, 1, 1]))) == pytest.approx(0.75)
    assert float(entropy(np.array([0.0, 0.0]))) == 0.0 and float(gini(np.zeros(2))) == 0.0
    h = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    assert float(information_gain(np.array([2.0, 6.0]), np.array([2.0, 0.0]))) == pytest.approx(
        h - 0.75 * 0.0
    )


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_best_split_matches_a_brute_force_search(criterion):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 6, size=(40, 4)).astype(np.float32)  # repeated values: ties in x
    y = ((x[:, 2] > 2) ^ (rng.random(40) < 0.2)).astype(np.int32) + (x[:, 0] > 4)
    impurity = {"gini": gini, "entropy": entropy}[criterion]
    gain, f, t = brute_force_split(x, y, 3, impurity)
    s = best_split(x, y, num_classes=3, criterion=criterion)
    assert float(s.gain) == pytest.approx(gain, abs=1e-5)
    assert (int(s.feature), float(s.threshold)) == (f, t)


def test_zero_weight_points_are_ignored():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    y = (x[:, 1] > 0).astype(np.int32)
    w = (np.arange(30) < 20).astype(np.float32)
    a = best_split(x, y, num_classes=2, weights=w)
    b = best_split(x[:20], y[:20], num_classes=2)
    assert (int(a.feature), float(a.threshold), float(a.gain)) == pytest.approx(
        (int(b.feature), float(b.threshold), float(b.gain))
    )


def test_no_valid_split_reports_minus_infinity():
    s = best_split(np.ones((5, 2)), np.array([0, 1, 0, 1, 0]), num_classes=2)
    assert float(s.gain) == -np.inf


def test_depth_two_tree_learns_a_rule_no_single_split_can():
    # An AND of two thresholds. (Pure XOR would defeat any greedy tree: no first split of
    # it gains anything, which is the greedy rule's known blind spot.)
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(200, 2)).astype(np.float32)
    y = ((x[:, 0] > 0.3) & (x[:, 1] > -0.2)).astype(np.int32)
    stump = fit_tree(x, y, num_classes=2, depth=1)
    tree = fit_tree(x, y, num_classes=2, depth=2)
    assert np.mean(np.asarray(predict_tree(stump, x)) == y) < 0.9
    assert np.mean(np.asarray(predict_tree(tree, x)) == y) == 1.0


def test_map_is_ridge_and_tends_to_mle_as_the_prior_widens():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(15, 5)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.3 * rng.normal(size=15)).astype(np.float32)
    mle = np.asarray(mle_weights(x, y))
    lam = 0.5  # noise / prior variance
    ridge = np.linalg.solve(x.T @ x + lam * np.eye(5), x.T @ y)
    np.testing.assert_allclose(map_weights(x, y, prior_variance=2.0, noise_variance=1.0), ridge,
                               rtol=1e-4, atol=1e-4)  # fmt: skip
    norms = [np.linalg.norm(map_weights(x, y, prior_variance=v)) for v in (0.01, 0.1, 1.0)]
    assert norms[0] < norms[1] < norms[2] < np.linalg.norm(mle)
    np.testing.assert_allclose(map_weights(x, y, prior_variance=1e6), mle, atol=1e-3)


def test_predictive_variance_grows_away_from_the_data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 2)).astype(np.float32)
    post = posterior(x, x @ np.array([1.0, 1.0], np.float32), noise_variance=0.1)
    _, var = predictive(post, np.array([[0.0, 0.0], [0.5, 0.5], [20.0, 20.0]], np.float32))
    var = np.asarray(var)
    assert 0.1 <= var[0] <= var[1] < var[2]
