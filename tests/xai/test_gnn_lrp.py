"""GNN-LRP: conservation, the seed's masked-gradient definition, and a torch port of it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.data import graphs
from jaxdl.graph import GraphNet
from jaxdl.xai import gnn_lrp


def identity_graph(n: int, growth: int, seed: int) -> graphs.GraphsTuple:
    """A BA graph with self-loops and the seed's X = eye(N) features."""
    g = graphs.barabasi_albert(n, growth, seed=seed)
    return graphs.graphs_tuple(np.eye(n, dtype=np.float32), g.senders, g.receivers, self_loops=True)


@pytest.fixture(scope="module")
def setup():
    g = identity_graph(9, 2, seed=0)
    model = GraphNet(9, 6, 2, rngs=nnx.Rngs(3))
    return g, model


@pytest.mark.parametrize(("gamma", "output_relu"), [(0.0, True), (0.25, True), (0.1, False)])
def test_walk_relevances_sum_to_the_output(setup, gamma, output_relu):
    g, model = setup
    if not output_relu:  # the same weights, scores as logits (may be negative)
        model = GraphNet(9, 6, 2, output_relu=False, rngs=nnx.Rngs(3))
    y = np.asarray(model(g))[0]
    assert np.abs(y).max() > 0
    for target in (0, 1):
        r = np.asarray(gnn_lrp.walk_relevances(model, g, target, gamma=gamma))
        assert r.shape == (9, 9, 9)
        if y[target] != 0:
            assert abs(r.sum() - y[target]) <= 1e-4 * abs(y[target])
        else:  # a dead class: nothing to distribute
            assert np.all(r == 0)
        nodes = np.asarray(gnn_lrp.node_relevances(model, g, target, gamma=gamma))
        np.testing.assert_allclose(nodes, r.sum(axis=(1, 2)), rtol=1e-4, atol=1e-6)


def test_walks_along_non_edges_have_no_relevance(setup):
    g, model = setup
    r = np.asarray(gnn_lrp.walk_relevances(model, g, int(np.argmax(model(g)[0]))))
    adj = np.zeros((9, 9), bool)
    adj[g.senders, g.receivers] = True
    walk = adj[:, :, None] & adj[None, :, :]  # i -> j and j -> k are edges
    assert np.all(r[~walk] == 0) and np.any(r[walk] != 0)


def test_equals_the_seeds_masked_gradient_for_single_walks(setup):
    """The seed's definition: H*M + (1-M)*detach(H) at layers 1 and 2, one (j, k) at a time."""
    g, model = setup
    target, gamma = int(np.argmax(model(g)[0])), 0.1
    f0, f1, f2, f3 = gnn_lrp.lrp_stages(model, g, target, gamma=gamma)

    def masked(x, j, k):
        def keep_row(h, row):
            m = jnp.zeros((h.shape[0], 1)).at[row].set(1.0)
            return h * m + (1 - m) * jax.lax.stop_gradient(h)

        return f3(keep_row(f2(keep_row(f1(f0(x)), j)), k))

    masked_grad = jax.jit(jax.grad(masked))  # j, k traced: one compilation
    x = jnp.asarray(g.nodes)
    r = np.asarray(gnn_lrp.walk_relevances(model, g, target, gamma=gamma))
    (_, j_top, k_top, _), *_ = gnn_lrp.top_walks(r, 1)
    for j, k in [(0, 0), (0, 3), (2, 0), (j_top, k_top)]:
        expected = np.asarray(jnp.sum(x * masked_grad(x, j, k), axis=-1))
        np.testing.assert_allclose(r[:, j, k], expected, rtol=1e-5, atol=1e-7)


def test_matches_a_torch_port_of_the_seeds_lrp(setup):
    torch = pytest.importorskip("torch")
    g, model = setup
    n, target, gamma = 9, int(np.argmax(model(g)[0])), 0.1
    adj = np.zeros((n, n), np.float32)
    adj[g.senders, g.receivers] = 1.0
    a = torch.from_numpy(adj)
    u, w1, w2, v = (
        torch.from_numpy(np.array(p[...])) for p in (model.U, model.W1, model.W2, model.V)
    )

    def seed_lrp(j, k):  # the seed's GraphNet.lrp, transcribed
        mj = torch.eye(n)[j][:, None]
        mk = torch.eye(n)[k][:, None]
        w1p, w2p, vp = (m + gamma * m.clamp(min=0) for m in (w1, w2, v))
        x = torch.eye(n).requires_grad_(True)
        h = x.matmul(u).clamp(min=0)
        z, zp = a.T.matmul(h.matmul(w1)), a.T.matmul(h.matmul(w1p))
        h = (zp * (z / (zp + 1e-6)).data).clamp(min=0)
        h = h * mj + (1 - mj) * h.data
        z, zp = a.T.matmul(h.matmul(w2)), a.T.matmul(h.matmul(w2p))
        h = (zp * (z / (zp + 1e-6)).data).clamp(min=0)
        h = h * mk + (1 - mk) * h.data
        z, zp = h.matmul(v), h.matmul(vp)
        h = (zp * (z / (zp + 1e-6)).data).clamp(min=0)
        h.mean(dim=0)[target].backward()
        return (x.data * x.grad).sum(1).numpy()

    r = np.asarray(gnn_lrp.walk_relevances(model, g, target, gamma=gamma))
    # The (j, k) of the three most relevant walks: vectors that are surely not all zero.
    for _, j, k, _ in gnn_lrp.top_walks(r, 3):
        np.testing.assert_allclose(r[:, j, k], seed_lrp(j, k), rtol=1e-4, atol=1e-6)


def test_top_walks_plot_and_batched_input_error(setup, tmp_path):
    g, model = setup
    r = gnn_lrp.walk_relevances(model, g, 0)
    walks = gnn_lrp.top_walks(r, 5)
    assert len(walks) == 5
    assert [abs(w[3]) for w in walks] == sorted((abs(w[3]) for w in walks), reverse=True)
    i, j, k, value = walks[0]
    assert value == pytest.approx(float(r[i, j, k]))
    gnn_lrp.plot_walks(g, r, tmp_path / "walks.png", num_walks=5)
    assert (tmp_path / "walks.png").stat().st_size > 1000
    batch = graphs.batch_graphs([g, g])
    with pytest.raises(ValueError, match=r"graph.n_node has shape \(2,\), expected \(1,\)"):
        gnn_lrp.walk_relevances(model, batch, 0)
