"""Graph builders: radius graphs, GraphsTuple conversion, padding, karate club, BA graphs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import graphs


def brute_force_pairs(points: np.ndarray, cutoff: float, self_loops: bool) -> set:
    """The seed's compute_edges in NumPy: every (receiver, sender) within cutoff."""
    d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    close = d <= cutoff
    if not self_loops:
        np.fill_diagonal(close, False)
    return {tuple(p) for p in np.argwhere(close)}


@pytest.mark.parametrize("self_loops", [False, True])
def test_radius_graph_matches_brute_force_across_row_chunks(monkeypatch, self_loops):
    monkeypatch.setattr(graphs, "ROW_CHUNK", 7)  # several chunks, one partial
    points = np.random.default_rng(0).uniform(size=(30, 2))
    s, r = graphs.radius_graph(points, 0.25, self_loops=self_loops)
    assert s.dtype == r.dtype == np.int32
    assert set(zip(r.tolist(), s.tolist(), strict=True)) == brute_force_pairs(
        points, 0.25, self_loops
    )
    assert len(s) == len(set(zip(r.tolist(), s.tolist(), strict=True)))  # no duplicates


def test_radius_graph_fixed_equals_dense_when_k_suffices_and_keeps_nearest():
    points = np.random.default_rng(1).uniform(size=(25, 2)).astype(np.float32)
    s, r = graphs.radius_graph(points, 0.3)
    k = int(np.bincount(r, minlength=25).max())
    fs, fr, w = jax.jit(graphs.radius_graph_fixed, static_argnums=(1, 2))(points, 0.3, k)
    assert fs.shape == fr.shape == w.shape == (25 * k,)
    real = np.asarray(w) > 0
    got = set(zip(np.asarray(fr)[real].tolist(), np.asarray(fs)[real].tolist(), strict=True))
    assert got == set(zip(r.tolist(), s.tolist(), strict=True))
    # Empty slots are weight-0 self-loops, so they point at a real node.
    assert np.all(np.asarray(fs)[~real] == np.asarray(fr)[~real])
    # With K = 1 each node keeps its single nearest neighbour (if within range).
    s1, r1, w1 = graphs.radius_graph_fixed(jnp.asarray(points), 10.0, 1)
    d = ((points[:, None] - points[None]) ** 2).sum(-1) + np.diag(np.full(25, np.inf))
    np.testing.assert_array_equal(np.asarray(s1), d.argmin(1))
    assert np.all(np.asarray(w1) == 1.0)


@pytest.mark.parametrize(
    "fn", [graphs.radius_graph, lambda p, c: graphs.radius_graph_fixed(p, c, 2)]
)
def test_radius_graph_bad_inputs_are_one_sentence(fn):
    with pytest.raises(ValueError, match=r"cutoff is -1.0, expected a non-negative"):
        fn(np.zeros((4, 2), np.float32), -1.0)
    with pytest.raises(ValueError, match=r"points has shape \(4,\) \(rank 1\), expected rank 2"):
        fn(np.zeros(4, np.float32), 1.0)


def test_graphs_tuple_counts_nodes_from_features_and_rejects_bad_indices():
    # Node 3 is isolated and trailing: max(edges) + 1 would say 3 nodes.
    g = graphs.graphs_tuple(np.ones((4, 2)), np.array([0, 1]), np.array([1, 2]))
    assert g.n_node.tolist() == [4] and g.n_edge.tolist() == [2]
    looped = graphs.graphs_tuple(
        np.ones((4, 2)),
        np.array([0, 2]),
        np.array([1, 2]),
        edges=np.array([0.5, 3.0]),
        self_loops=True,
    )
    # Node 2 already had a loop (weight 3 kept); nodes 0, 1, 3 get one of weight 1.
    assert looped.senders.tolist() == [0, 2, 0, 1, 3]
    assert looped.edges.tolist() == [0.5, 3.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"receivers contains node index 4, but the graph has 4"):
        graphs.graphs_tuple(np.ones((4, 2)), np.array([0, 1]), np.array([1, 4]))
    with pytest.raises(ValueError, match=r"senders contains node index -1"):
        graphs.graphs_tuple(np.ones((4, 2)), np.array([-1, 1]), np.array([1, 2]))


def test_pad_graphs_layout_masks_and_zero_weight_padding():
    a = graphs.barabasi_albert(5, 1, seed=0)
    b = graphs.barabasi_albert(7, 2, seed=1)
    batch = graphs.batch_graphs([a, b])
    padded = graphs.pad_graphs(batch, n_node=16, n_edge=40, n_graph=4)
    assert padded.nodes.shape == (16, 1) and padded.senders.shape == (40,)
    assert padded.n_node.tolist() == [5, 7, 4, 0]
    np.testing.assert_array_equal(graphs.node_mask(padded), np.arange(16) < 12)
    np.testing.assert_array_equal(graphs.graph_mask(padded), [True, True, False, False])
    n_real = int(batch.n_edge.sum())
    assert np.all(padded.edges[:n_real] == 1.0) and np.all(padded.edges[n_real:] == 0.0)
    assert np.all(padded.senders[n_real:] == 12)  # padding edges stay in the padding graph
    np.testing.assert_array_equal(graphs.node_graph_index(padded), [0] * 5 + [1] * 7 + [2] * 4)
    with pytest.raises(ValueError, match=r"n_node is 12, expected at least 13 .* plus one"):
        graphs.pad_graphs(batch, n_node=12, n_edge=40, n_graph=4)
    with pytest.raises(ValueError, match=r"n_edge is 3, expected at least"):
        graphs.pad_graphs(batch, n_node=16, n_edge=3, n_graph=4)


def test_karate_club():
    g, labels = graphs.karate_club()
    assert g.nodes.shape == (34, 34) and int(g.n_edge[0]) == 156
    np.testing.assert_array_equal(g.nodes, np.eye(34))
    assert labels[0] == 0 and labels[33] == 1 and labels.sum() == 17
    pairs = set(zip(g.senders.tolist(), g.receivers.tolist(), strict=True))
    assert all((r, s) in pairs for s, r in pairs)  # undirected: both directions


def test_ba_dataset_growth_sets_the_edge_count():
    gs, labels = graphs.ba_dataset(20, min_nodes=8, max_nodes=12, seed=3)
    assert set(labels.tolist()) == {0, 1}
    for g, c in zip(gs, labels, strict=True):
        n, m = int(g.n_node[0]), (1, 2)[c]
        assert 8 <= n <= 12 and int(g.n_edge[0]) == 2 * m * (n - m)  # both directions
    with pytest.raises(ValueError, match="growth is 5"):
        graphs.barabasi_albert(5, 5, seed=0)


def test_point_cloud_and_cutoff_for_degree():
    pts = graphs.point_cloud(jax.random.key(0), 2000)
    assert pts.shape == (2000, 2) and float(pts.min()) >= 0 and float(pts.max()) <= 1
    s, _ = graphs.radius_graph(np.asarray(pts), graphs.cutoff_for_degree(2000, 8.0))
    assert 6.5 < len(s) / 2000 < 8.5  # border effects lower it slightly


def test_one_hot_node_features():
    g = graphs.graphs_tuple(np.zeros((3, 1)), np.array([0, 1, 2]), np.array([1, 2, 1]))
    np.testing.assert_array_equal(
        graphs.one_hot_node_features(g, kind="identity", width=4), np.eye(3, 4)
    )
    # in-degrees 0, 2, 1, capped at width - 1 = 1
    np.testing.assert_array_equal(
        graphs.one_hot_node_features(g, kind="degree", width=2), [[1, 0], [0, 1], [0, 1]]
    )
    with pytest.raises(ValueError, match="kind is 'constant'"):
        graphs.one_hot_node_features(g, kind="constant", width=2)


def seed_compute_edges(points: np.ndarray, cutoff: float = 1.0) -> np.ndarray:
    """The seed's compute_edges, in NumPy: ``(E, 2)`` rows ``(i, j)`` with d <= cutoff."""
    distances = np.sqrt(np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1))
    return np.stack(np.nonzero(distances <= cutoff), axis=1)


def test_radius_graph_self_loop_convention_against_the_seed():
    points = np.random.default_rng(4).uniform(size=(60, 2)) * 4
    seed = seed_compute_edges(points, 1.0)
    s, r = graphs.radius_graph(points, 1.0, self_loops=True)
    # self_loops=True is the seed's edge list, in the seed's order (row i receives).
    np.testing.assert_array_equal(np.stack([r, s], axis=1), seed)
    # The default (pinned) drops exactly the 60 pairs (i, i).
    s0, r0 = graphs.radius_graph(points, 1.0)
    no_diag = seed[seed[:, 0] != seed[:, 1]]
    assert len(seed) - len(no_diag) == 60
    np.testing.assert_array_equal(np.stack([r0, s0], axis=1), no_diag)
