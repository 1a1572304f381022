r"""GNN-LRP (Schnake et al., 2021): relevance of walks through a :class:`GraphNet`.

The explained output is ``Y = model(graph)[0, target]``. Each layer that mixes
features is replaced, for the backward pass only, by the LRP-gamma rule written as a
forward function whose gradient implements it (the seed's ``lrp``)::

    Z  = A^T H W                      # the layer's pre-activation
    Zp = A^T H (W + gamma * relu(W))  # positive contributions reinforced
    H' = relu(Zp * stop_gradient(Z / Zp))

The forward value is unchanged (``Zp * Z / Zp = Z``), and every such layer is positively
homogeneous in its input given the detached factors, so gradient x input conserves the
output: the relevances of all input features sum to ``Y``.

A walk ``(i, j, k)`` goes from input node ``i`` through node ``j`` after the first
message-passing layer and node ``k`` after the second. Its relevance is gradient x input
at node ``i`` when the gradient may only flow through row ``j`` of ``H1`` and row ``k``
of ``H2`` (the seed's masks ``Mj`` and ``Mk``). Summed over ``j`` and ``k`` these
masks let the whole gradient through, so walk relevances also sum to ``Y``.

:func:`walk_relevances` computes all ``N^3`` walk relevances with two ``vmap``-ed
vector-Jacobian products instead of the seed's one backward pass per ``(j, k)``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jaxtyping import Array, Float

from jaxdl._extras import missing_extra

try:
    import jraph
except ImportError as e:
    raise missing_extra("jaxdl.xai.gnn_lrp", "graph", e, "jraph") from e

# A sideways import between capability folders: GNN-LRP explains exactly this network.
from jaxdl.graph import GraphNet, edge_weights, propagate
from jaxdl.viz import figure, save_figure

# Keeps Z / Zp finite where |Zp| < EPS. The seed adds 1e-6 to every Zp, which scales
# each unit by Zp / (Zp + 1e-6) and breaks conservation by ~1e-4 relative on outputs
# that are small differences of large relevances; here only near-zero Zp are replaced.
EPS = 1e-6


def _stabilise(zp: jax.Array, eps: float) -> jax.Array:
    return jnp.where(jnp.abs(zp) >= eps, zp, jnp.where(zp >= 0, eps, -eps))


def _gamma_layer(z: jax.Array, zp: jax.Array, eps: float, relu: bool = True) -> jax.Array:
    out = zp * jax.lax.stop_gradient(z / _stabilise(zp, eps))
    return jax.nn.relu(out) if relu else out


def _check_single_graph(graph: jraph.GraphsTuple) -> None:
    if graph.n_node.shape != (1,):
        raise ValueError(
            f"graph.n_node has shape {graph.n_node.shape}, expected (1,): explain one graph "
            "at a time (unbatched and unpadded)."
        )


def lrp_stages(
    model: GraphNet, graph: jraph.GraphsTuple, target: int, *, gamma: float, eps: float = EPS
):
    """The GraphNet's forward split at ``H0``, ``H1``, ``H2``, with the gamma rule built in.

    Returns four functions ``f0: X -> H0``, ``f1: H0 -> H1``, ``f2: H1 -> H2`` and
    ``f3: H2 -> Y`` whose composition equals ``model(graph)[0, target]`` (up to ``eps``)
    and whose gradients are LRP-gamma's.
    """
    _check_single_graph(graph)
    u, w1, w2, v = (p[...] for p in (model.U, model.W1, model.W2, model.V))
    w = edge_weights(graph, graph.nodes.dtype)

    def plus(m: jax.Array) -> jax.Array:
        return m + gamma * jax.nn.relu(m)

    def message_layer(weight: jax.Array):
        def f(h: jax.Array) -> jax.Array:
            z = propagate(graph, h @ weight, w)
            zp = propagate(graph, h @ plus(weight), w)
            return _gamma_layer(z, zp, eps)

        return f

    def f0(x: jax.Array) -> jax.Array:
        return jax.nn.relu(x @ u)

    def f3(h: jax.Array) -> jax.Array:
        scores = _gamma_layer(h @ v, h @ plus(v), eps, relu=model.output_relu)
        return jnp.mean(scores, axis=0)[target]

    return f0, message_layer(w1), message_layer(w2), f3


def walk_relevances(
    model: GraphNet,
    graph: jraph.GraphsTuple,
    target: int,
    *,
    gamma: float = 0.1,
    eps: float = EPS,
) -> Float[Array, " n n n"]:
    """GNN-LRP relevance ``R[i, j, k]`` of every walk ``i -> j -> k`` for output ``target``.

    Args:
      model: a :class:`~jaxdl.graph.GraphNet`.
      graph: one graph (``n_node`` of shape ``(1,)``), as the model was trained on
        (self-loops included if the model saw them).
      target: the class whose score is explained.
      gamma: LRP-gamma's reinforcement of positive weights (0 gives LRP-0, i.e.
        gradient x input of the masked network).
      eps: stabiliser of the ``Z / Zp`` ratio.

    Returns:
      ``(N, N, N)`` relevances; ``R.sum()`` equals ``model(graph)[0, target]`` up to
      float32 rounding and ``eps``. Walks along non-edges have relevance 0.

    Example:
      >>> from flax import nnx
      >>> from jaxdl.data.graphs import barabasi_albert
      >>> from jaxdl.graph import GraphNet
      >>> g = barabasi_albert(6, 1, seed=0)
      >>> model = GraphNet(1, 8, 2, rngs=nnx.Rngs(0))
      >>> r = walk_relevances(model, g, 0)
      >>> r.shape, bool(jnp.allclose(r.sum(), model(g)[0, 0], rtol=1e-4))
      ((6, 6, 6), True)
    """
    _check_single_graph(graph)
    graphdef, state = nnx.split(model)
    return _walk_relevances(graphdef, state, graph, target, gamma, eps)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _walk_relevances(graphdef, state, graph, target, gamma, eps):
    model = nnx.merge(graphdef, state)
    f0, f1, f2, f3 = lrp_stages(model, graph, target, gamma=gamma, eps=eps)
    x = jnp.asarray(graph.nodes)
    n = x.shape[0]
    h0, vjp0 = jax.vjp(f0, x)
    h1, vjp1 = jax.vjp(f1, h0)
    h2, vjp2 = jax.vjp(f2, h1)
    _, vjp3 = jax.vjp(f3, h2)
    (g2,) = vjp3(jnp.ones(()))  # (N, h): dY/dH2
    rows = jnp.eye(n, dtype=x.dtype)

    # Gradient reaching H1 when only row k of H2 passes it on: (k, N, h).
    g1 = jax.vmap(lambda e_k: vjp2(g2 * e_k[:, None])[0])(rows)

    def input_relevance(c1: jax.Array) -> jax.Array:  # cotangent at H1 -> relevance per i
        (c0,) = vjp1(c1)
        (cx,) = vjp0(c0)
        return jnp.sum(x * cx, axis=-1)

    # R[i, j, k]: only row j of H1 passes the k-th gradient on.
    by_jk = jax.vmap(  # over j
        lambda e_j: jax.vmap(lambda g: input_relevance(g * e_j[:, None]))(g1)  # over k
    )(rows)  # (j, k, i)
    return jnp.transpose(by_jk, (2, 0, 1))


def node_relevances(
    model: GraphNet,
    graph: jraph.GraphsTuple,
    target: int,
    *,
    gamma: float = 0.1,
    eps: float = EPS,
) -> Float[Array, " n"]:
    """First-order LRP-gamma: the relevance of each input node (no walk masks).

    Equals ``walk_relevances(...).sum(axis=(1, 2))``; sums to the explained output.
    """
    _check_single_graph(graph)
    graphdef, state = nnx.split(model)
    return _node_relevances(graphdef, state, graph, target, gamma, eps)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _node_relevances(graphdef, state, graph, target, gamma, eps):
    f0, f1, f2, f3 = lrp_stages(nnx.merge(graphdef, state), graph, target, gamma=gamma, eps=eps)
    x = jnp.asarray(graph.nodes)
    grad = jax.grad(lambda x: f3(f2(f1(f0(x)))))(x)
    return jnp.sum(x * grad, axis=-1)


def top_walks(
    relevances: Float[Array, " n n n"], num: int, *, by_magnitude: bool = True
) -> list[tuple[int, int, int, float]]:
    """The ``num`` walks with the largest relevance (or ``|relevance|``), largest first."""
    r = np.asarray(relevances)
    score = np.abs(r) if by_magnitude else r
    flat = np.argsort(score, axis=None)[::-1][:num]
    return [(*map(int, np.unravel_index(f, r.shape)), float(r.flat[f])) for f in flat]


def plot_walks(
    graph: jraph.GraphsTuple,
    relevances: Float[Array, " n n n"],
    path: str | Path | None = None,
    *,
    num_walks: int = 10,
    title: str = "",
    ax=None,
):
    """Draws the graph and its ``num_walks`` most relevant walks (red > 0, blue < 0).

    Each walk ``i -> j -> k`` is a smooth curve through its three nodes; line width and
    opacity grow with ``|R|``.

    Args:
        graph: One graph (``n_node`` of length 1).
        relevances: ``(N, N, N)`` walk relevances from :func:`walk_relevances`.
        path: Where to save a PNG when this call makes its own figure (``ax`` is None).
        num_walks: How many of the most relevant walks to draw.
        title: The axes' title; by default "top K walks".
        ax: Matplotlib axes to draw on (e.g. a notebook's); ``None`` makes a new
            :class:`~matplotlib.figure.Figure`.

    Returns:
        The axes drawn on.
    """
    import networkx as nx

    n = int(graph.n_node[0])
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(
        (s, r)
        for s, r in zip(graph.senders.tolist(), graph.receivers.tolist(), strict=True)
        if s != r
    )
    pos = nx.kamada_kawai_layout(g)
    own_fig = ax is None
    if own_fig:
        fig, ax = figure(figsize=(5, 5))
    nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.25, width=1.5)
    nodes = nx.draw_networkx_nodes(
        g, pos, ax=ax, node_size=60, node_color="lightgray", edgecolors="black", linewidths=0.5
    )
    nodes.set_zorder(3)  # above the walks
    walks = top_walks(relevances, num_walks)
    biggest = max((abs(w[3]) for w in walks), default=1.0) or 1.0
    rng = np.random.default_rng(0)
    for i, j, k, value in walks[::-1]:  # most relevant drawn last, on top
        pts = np.array([pos[i], pos[j], pos[k]])
        # A small jitter separates walks that share nodes. The quadratic Bezier curve
        # with control point 2 p_j - (p_i + p_k) / 2 passes through p_j at t = 1/2.
        pts = pts + rng.normal(0, 0.015, pts.shape)
        control = 2 * pts[1] - (pts[0] + pts[2]) / 2
        if i == j or j == k:  # a self-loop step: the straight segment between the two
            control = (pts[0] + pts[2]) / 2
        t = np.linspace(0, 1, 40)[:, None]
        curve = (1 - t) ** 2 * pts[0] + 2 * (1 - t) * t * control + t**2 * pts[2]
        strength = abs(value) / biggest
        ax.plot(
            *curve.T,
            color="tab:red" if value > 0 else "tab:blue",
            alpha=0.3 + 0.6 * strength,
            linewidth=1 + 4 * strength,
            solid_capstyle="round",
        )
    ax.set_title(title or f"top {len(walks)} walks")
    ax.axis("off")
    if own_fig and path is not None:
        save_figure(fig, path)
    return ax
