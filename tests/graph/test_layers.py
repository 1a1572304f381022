"""GCN parity with torch_geometric and the corrected seed layer; padding; one compilation."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.data import graphs
from jaxdl.graph import GCN, GCNConv, GraphNet, gcn_norm
from jaxdl.pretrained import load_gcn_conv

torch = pytest.importorskip("torch")
pyg_nn = pytest.importorskip("torch_geometric.nn")

from benchmarks._torch_gcn import CorrectedGraphConv, SeedGraphConv  # noqa: E402

ATOL = 1e-5


def cloud_with_isolated_nodes(n: int = 40, seed: int = 0) -> np.ndarray:
    """Random points plus one isolated point in the middle of the index range and one last."""
    pts = np.random.default_rng(seed).uniform(size=(n, 2))
    pts[n // 2] = [5.0, 5.0]
    pts[-1] = [-5.0, -5.0]
    return pts


def layer_pair(n_in: int, n_out: int, seed: int = 0):
    """A torch_geometric GCNConv (random bias) and a jaxdl GCNConv loaded from its
    state_dict by :func:`jaxdl.pretrained.load_gcn_conv`."""
    torch.manual_seed(seed)
    pyg = pyg_nn.GCNConv(n_in, n_out)
    with torch.no_grad():
        pyg.bias.normal_()  # torch_geometric starts it at zero
    return load_gcn_conv(GCNConv(n_in, n_out, rngs=nnx.Rngs(seed)), pyg.state_dict()), pyg


def run_pyg(pyg, x: np.ndarray, senders: np.ndarray, receivers: np.ndarray) -> np.ndarray:
    edge_index = torch.from_numpy(np.stack([senders, receivers]).astype(np.int64))
    return pyg(torch.from_numpy(x), edge_index).detach().numpy()


@pytest.mark.parametrize("self_loops", [False, True])
def test_gcn_matches_torch_geometric_with_isolated_nodes(self_loops):
    pts = cloud_with_isolated_nodes()
    s, r = graphs.radius_graph(pts, 0.3, self_loops=self_loops)
    for node in (20, 39):  # the two isolated nodes have no edges but (maybe) a self-loop
        assert set(r[s == node].tolist()) <= {node} and set(s[r == node].tolist()) <= {node}
    x = np.random.default_rng(1).standard_normal((40, 6)).astype(np.float32)
    conv, pyg = layer_pair(6, 4)
    out = np.asarray(conv(graphs.graphs_tuple(x, s, r)))
    expected = run_pyg(pyg, x, s, r)
    np.testing.assert_allclose(out, expected, atol=ATOL, rtol=0)
    # An isolated node only sees itself: h_i = x_i Theta + b (degree 1 from its self-loop).
    np.testing.assert_allclose(
        out[39], x[39] @ np.asarray(conv.kernel[...]) + conv.bias[...], atol=ATOL
    )


def test_gcn_matches_torch_geometric_with_edge_weights_and_directed_edges():
    rng = np.random.default_rng(2)
    s, r = rng.integers(0, 12, 50), rng.integers(0, 12, 50)  # some loops, duplicates
    s, r = s[s != r], r[s != r]  # duplicate self-loops resolve differently: keep none
    w = rng.uniform(0.1, 2.0, len(s)).astype(np.float32)
    x = rng.standard_normal((12, 3)).astype(np.float32)
    conv, pyg = layer_pair(3, 5, seed=3)
    out = np.asarray(conv(graphs.graphs_tuple(x, s, r, edges=w)))
    edge_index = torch.from_numpy(np.stack([s, r]).astype(np.int64))
    expected = pyg(torch.from_numpy(x), edge_index, torch.from_numpy(w)).detach().numpy()
    np.testing.assert_allclose(out, expected, atol=ATOL, rtol=0)


def test_gcn_matches_the_corrected_seed_layer():
    pts = cloud_with_isolated_nodes(seed=4)
    edges = np.argwhere(np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)) <= 0.3)  # seed's
    x = np.random.default_rng(5).standard_normal((40, 6)).astype(np.float32)
    conv = GCNConv(6, 4, use_bias=False, rngs=nnx.Rngs(0))
    ref = CorrectedGraphConv(6, 4, activation=torch.nn.Identity())
    with torch.no_grad():
        ref.theta.copy_(torch.from_numpy(np.array(conv.kernel[...])))
    expected = ref(torch.from_numpy(x), torch.from_numpy(edges)).detach().numpy()
    # Seed edges are (target, source) rows with self-loops already in them.
    out = np.asarray(conv(graphs.graphs_tuple(x, edges[:, 1], edges[:, 0])))
    np.testing.assert_allclose(out, expected, atol=ATOL, rtol=0)


def test_the_seeds_literal_layer_is_not_a_gcn():
    """Why it differs: each node sums rescaled copies of itself; degrees are doubled."""
    # A path 0-1-2 plus an isolated node 3 that has no self-loop edge.
    pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (1, 0), (1, 2), (2, 1)]
    edges = np.array(pairs)
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0], [7.0, 7.0]], np.float32)
    seed = SeedGraphConv(2, 2, activation=torch.nn.Identity())
    with torch.no_grad():
        seed.theta.copy_(torch.eye(2))  # Theta = I: the output is the aggregation itself
    literal = seed(torch.from_numpy(x), torch.from_numpy(edges)).detach().numpy()
    # 1) max(edges) + 1 = 3 nodes: the trailing isolated node 3 is dropped.
    assert literal.shape == (3, 2)
    # 2) Row i is a multiple of x[i]: node 0 = (1, 0) gets nothing from node 1 = (0, 1).
    assert literal[0, 1] == 0.0 and literal[1, 0] == 0.0
    # 3) torch.unique over both columns counts each edge twice: degrees 4, 6, 4 instead of
    #    2, 3, 2, so node 0's two self-copies are divided by sqrt(4*4) and sqrt(4*6).
    np.testing.assert_allclose(literal[0], x[0] * (1 / 4 + 1 / np.sqrt(24)), rtol=1e-6)
    conv = GCNConv(2, 2, use_bias=False, rngs=nnx.Rngs(0))
    conv.kernel[...] = jnp.eye(2)
    gcn = np.asarray(conv(graphs.graphs_tuple(x, edges[:, 1], edges[:, 0])))
    # The GCN mixes neighbours: node 0 = x0/2 + x1/sqrt(6); node 3 keeps x3.
    np.testing.assert_allclose(gcn[0], x[0] / 2 + x[1] / np.sqrt(6), rtol=1e-6)
    np.testing.assert_allclose(gcn[3], x[3], rtol=1e-6)
    assert not np.allclose(gcn[:3], literal, atol=0.1)


def padded_batches(num_batches: int, seed: int = 0):
    """Batches of 2 or 3 BA graphs of different sizes, padded to one budget."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(num_batches):
        gs = [
            graphs.barabasi_albert(int(rng.integers(5, 12)), 1 + (i + j) % 2, seed=10 * i + j)
            for j in range(2 + i % 2)
        ]
        out.append(
            (gs, graphs.pad_graphs(graphs.batch_graphs(gs), n_node=40, n_edge=128, n_graph=4))
        )
    return out


def test_padding_leaves_real_nodes_unchanged_and_matches_torch_geometric():
    conv, pyg = layer_pair(1, 3)
    for gs, padded in padded_batches(3):
        x = np.random.default_rng(0).standard_normal((40, 1)).astype(np.float32)
        x[~np.asarray(graphs.node_mask(padded))] = 100.0  # garbage in padding rows
        mask = graphs.node_mask(padded)
        out = np.asarray(conv(padded._replace(nodes=jnp.asarray(x)), node_mask=mask))
        batch = graphs.batch_graphs(gs)
        n = int(batch.n_node.sum())
        expected = run_pyg(pyg, x[:n], batch.senders, batch.receivers)
        np.testing.assert_allclose(out[:n], expected, atol=ATOL, rtol=0)
        assert np.all(out[n:] == 0.0)  # masked padding rows
        unmasked = np.asarray(conv(padded._replace(nodes=jnp.asarray(x))))
        np.testing.assert_array_equal(unmasked[:n], out[:n])


def test_batches_of_different_graphs_compile_once():
    model = GraphNet(1, 8, 2, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def loss(params, graph, labels):
        logits = nnx.merge(graphdef, params)(graph)
        mask = graphs.graph_mask(graph)
        ce = -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1)[:, 0]
        return jnp.sum(jnp.where(mask, ce, 0.0)) / jnp.sum(mask)

    chex.clear_trace_counter()
    grad = jax.jit(jax.grad(loss))
    for _, padded in padded_batches(4):
        labels = jnp.zeros(4, jnp.int32)
        jax.block_until_ready((loss(params, padded, labels), grad(params, padded, labels)))
    # A fifth batch with a different number of real graphs and nodes: still no retrace.
    assert np.isfinite(float(loss(params, padded_batches(5, seed=9)[-1][1], labels)))


def test_graphnet_on_a_padded_batch_equals_each_graph_alone():
    model = GraphNet(1, 8, 2, rngs=nnx.Rngs(1))
    gs, padded = padded_batches(2)[1]
    graphdef, params = nnx.split(model)
    apply = jax.jit(lambda params, graph: nnx.merge(graphdef, params)(graph))
    out = np.asarray(apply(params, padded))
    assert out.shape == (4, 2)
    for i, g in enumerate(gs):
        np.testing.assert_allclose(out[i], np.asarray(apply(params, g))[0], rtol=1e-5, atol=1e-6)


def test_gcn_norm_zero_weight_edges_are_ignored():
    g = graphs.graphs_tuple(
        np.ones((3, 1)), np.array([0, 1, 2]), np.array([1, 0, 2]), edges=np.array([1.0, 1.0, 0.0])
    )
    edge_coef, self_coef = gcn_norm(g)
    # Node 2's weight-0 self-loop neither removes its added loop nor counts as an edge.
    np.testing.assert_allclose(edge_coef, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(self_coef, [0.5, 0.5, 1.0])


def test_bad_inputs_are_one_sentence():
    conv = GCNConv(2, 3, rngs=nnx.Rngs(0))
    g = graphs.graphs_tuple(np.ones((3, 2)), np.array([0, 1]), np.array([1, 2]))
    with pytest.raises(
        ValueError,
        match=r"graph.receivers contains node index 5, but the graph "
        r"has 3 nodes",
    ):
        conv(g._replace(receivers=np.array([1, 5], np.int32)))
    with pytest.raises(ValueError, match=r"x has shape \(3, 4\), expected \(3, 2\)"):
        conv(g, jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"graph.edges has shape \(3,\), expected edge weights"):
        conv(g._replace(edges=np.ones(3)))
    with pytest.raises(ValueError, match=r"graph.nodes has shape \(3, 2\), expected"):
        GraphNet(1, 4, 2, rngs=nnx.Rngs(0))(g)


def test_gcn_model_dropout_needs_a_key_and_is_deterministic_with_one():
    g, _ = graphs.karate_club()
    model = GCN(34, (8,), 2, dropout=0.5, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)

    @functools.partial(jax.jit, static_argnums=2)
    def apply(params, key, train):
        return nnx.merge(graphdef, params)(g, train=train, key=key)

    a, b = apply(params, jax.random.key(1), True), apply(params, jax.random.key(1), True)
    chex.assert_trees_all_equal(a, b)
    assert not np.allclose(a, apply(params, None, False))
    with pytest.raises(ValueError, match="key is None"):
        model(g, train=True)
