"""k-nearest neighbours: distances, neighbour search, votes and the k sweep."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.classic import (
    default_k,
    knn_predict,
    knn_sweep_accuracy,
    nearest_neighbours,
    squared_distances,
    vote,
)

RNG = np.random.default_rng(0)
TRAIN = RNG.normal(size=(300, 6)).astype(np.float32) + 3.0  # off-centre: tests the expansion
QUERIES = RNG.normal(size=(37, 6)).astype(np.float32) + 3.0
LABELS = (TRAIN[:, 0] + TRAIN[:, 1] > 6).astype(np.int32) + (TRAIN[:, 2] > 3.5)


def naive_sq(a, b):
    return ((a[:, None, :].astype(np.float64) - b[None, :, :]) ** 2).sum(-1)


def test_squared_distances_match_differences():
    np.testing.assert_allclose(squared_distances(QUERIES, TRAIN), naive_sq(QUERIES, TRAIN),
                               rtol=1e-4, atol=1e-4)  # fmt: skip


@pytest.mark.parametrize("chunk_size", [8, 1024])  # 37 queries: a ragged last chunk
def test_nearest_neighbours_match_a_full_sort(chunk_size):
    d, idx = nearest_neighbours(QUERIES, TRAIN, k=5, chunk_size=chunk_size)
    full = naive_sq(QUERIES, TRAIN)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :5])
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :5], rtol=1e-4, atol=1e-4)


def test_vote_counts_and_breaks_ties_by_nearness():
    labels = jnp.array([[3, 1, 1, 3], [0, 2, 2, 2], [1, 0, 0, 1]])
    assert vote(labels, num_classes=4).tolist() == [3, 2, 1]  # 2-2 ties: nearer first wins
    assert vote(labels, num_classes=4, k=1).tolist() == [3, 0, 1]


def test_distance_weighted_vote_and_exact_matches():
    labels = jnp.array([[0, 1, 1], [0, 1, 1]])
    d = jnp.array([[1.0, 16.0, 16.0], [0.0, 0.0, 1.0]])  # weights 1 vs 0.25 + 0.25
    assert vote(labels, num_classes=2, distances=d).tolist() == [0, 0]


def test_sweep_equals_separate_predictions():
    ks = np.array([1, 4, 9])
    qy = (QUERIES[:, 0] + QUERIES[:, 1] > 6).astype(np.int32)
    for weighted in (False, True):
        acc = knn_sweep_accuracy(TRAIN, LABELS, QUERIES, qy, ks, num_classes=3, weighted=weighted)
        for k, a in zip(ks, np.asarray(acc), strict=True):
            pred = knn_predict(TRAIN, LABELS, QUERIES, num_classes=3, k=int(k), weighted=weighted)
            assert a == pytest.approx(np.mean(np.asarray(pred) == qy))


def test_knn_learns_a_separable_rule():
    qy = (QUERIES[:, 0] + QUERIES[:, 1] > 6).astype(np.int32) + (QUERIES[:, 2] > 3.5)
    pred = knn_predict(TRAIN, LABELS, QUERIES, num_classes=3)  # k = log 300 -> 7
    assert np.mean(np.asarray(pred) == qy) > 0.8


def test_default_k_is_odd_log_n():
    assert [default_k(n) for n in (1, 10, 1000, 60_000)] == [1, 3, 7, 11]


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="queries"):
        squared_distances(np.zeros((2, 3)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="k=400"):
        nearest_neighbours(QUERIES, TRAIN, k=400)


def test_matches_scikit_learn_brute_force():
    neighbors = pytest.importorskip("sklearn.neighbors")
    labels = (LABELS > 0).astype(np.int32)  # two classes and odd k: no ties to break
    for weights in ("uniform", "distance"):
        sk = neighbors.KNeighborsClassifier(7, algorithm="brute", weights=weights)
        want = sk.fit(TRAIN, labels).predict(QUERIES)
        got = knn_predict(TRAIN, labels, QUERIES, num_classes=2, k=7,
                          weighted=weights == "distance")  # fmt: skip
        np.testing.assert_array_equal(got, want)
