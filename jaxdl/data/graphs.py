"""Graphs as jraph ``GraphsTuple``: radius graphs, padding, karate club, BA graphs, points.

Conventions used across jaxdl's graph code:

- An edge ``(senders[e], receivers[e])`` carries a message from the sender to the
  receiver; undirected graphs list both directions.
- ``graph.edges`` is ``None`` (every edge has weight 1) or a ``(E,)`` float array of edge
  weights. Padding edges get weight 0, so they carry nothing even where a model does not
  look at masks.
- Padding follows jraph: :func:`pad_graphs` appends one graph that holds every padding
  node and edge, then empty graphs. The masks below assume that layout.

Host-side builders (:func:`radius_graph`, :func:`graphs_tuple`, :func:`pad_graphs`,
:func:`batch_graphs`) use NumPy and return NumPy-backed tuples; they run once per batch,
outside ``jit``. :func:`radius_graph_fixed` is the jit-friendly variant with static shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from jaxdl._extras import missing_extra

try:
    import jraph
except ImportError as e:
    raise missing_extra("jaxdl.data.graphs", "graph", e, "jraph") from e

GraphsTuple = jraph.GraphsTuple

# Rows of the distance matrix computed at once by radius_graph: bounds memory at
# ROW_CHUNK * N floats (10k points: 160 MB) while keeping NumPy's loops vectorised.
ROW_CHUNK = 4096


def _check_points(points) -> np.ndarray:
    points = np.asarray(points)
    if points.ndim != 2:
        raise ValueError(
            f"points has shape {points.shape} (rank {points.ndim}), expected rank 2: "
            "(num_points, dim)."
        )
    return points


def _check_cutoff(cutoff: float) -> None:
    if not np.isfinite(cutoff) or cutoff < 0:
        raise ValueError(f"cutoff is {cutoff}, expected a non-negative finite distance.")


def radius_graph(
    points: Float[np.ndarray, " n dim"], cutoff: float, *, self_loops: bool = False
) -> tuple[Int[np.ndarray, " e"], Int[np.ndarray, " e"]]:
    """Edges between every pair of points at distance ``<= cutoff`` (dense, O(N^2) work).

    The seed's ``compute_edges`` without its ``(N, N, dim)`` intermediate: distances are
    computed a block of rows at a time from ``|a|^2 + |b|^2 - 2 a.b``. Both directions of
    every pair are listed, sorted by receiver then sender.

    Args:
      points: ``(N, dim)`` coordinates.
      cutoff: maximum distance of an edge, ``>= 0``.
      self_loops: also list ``(i, i)``. Off by default, unlike the seed, whose
        ``compute_edges`` lists them (``d(i, i) = 0 <= cutoff``); off is torch_geometric's
        ``radius_graph(loop=False)`` default, and :class:`~jaxdl.graph.GCNConv` adds its
        own self-loop per node. ``self_loops=True`` gives exactly the seed's edges.

    Returns:
      ``(senders, receivers)``, int32 arrays of equal length.

    Example:
      >>> import numpy as np
      >>> radius_graph(np.array([[0.0, 0.0], [0.5, 0.0], [3.0, 0.0]]), 1.0)
      (array([1, 0], dtype=int32), array([0, 1], dtype=int32))
    """
    points = _check_points(points).astype(np.float64)
    _check_cutoff(cutoff)
    sq = np.sum(points**2, axis=1)
    senders, receivers = [], []
    for start in range(0, len(points), ROW_CHUNK):
        block = points[start : start + ROW_CHUNK]
        d2 = sq[start : start + len(block), None] + sq[None, :] - 2.0 * block @ points.T
        close = d2 <= cutoff**2
        rows = np.arange(start, start + len(block))
        close[rows - start, rows] = self_loops
        r, s = np.nonzero(close)
        receivers.append(r + start)
        senders.append(s)
    if not senders:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(senders).astype(np.int32), np.concatenate(receivers).astype(np.int32)


def radius_graph_fixed(
    points: Float[Array, " n dim"], cutoff: float, max_neighbors: int
) -> tuple[Int[Array, " n*k"], Int[Array, " n*k"], Float[Array, " n*k"]]:
    """Jit-friendly radius graph: each node receives from its ``max_neighbors`` nearest.

    Shapes depend only on ``N`` and ``max_neighbors``, so this compiles once per point
    count. Slot ``(i, k)`` holds the ``k``-th nearest other point of ``i`` if it lies
    within ``cutoff``; otherwise the slot is a self-loop ``(i, i)`` with weight 0, which
    the GCN layers ignore. Nodes with more than ``max_neighbors`` points in range keep
    the nearest ones only, so the result is not symmetric there.

    Args:
      points: ``(N, dim)`` coordinates.
      cutoff: maximum distance, ``>= 0`` (a Python number, checked at trace time).
      max_neighbors: ``K``, at most ``N - 1``.

    Returns:
      ``(senders, receivers, weights)`` of length ``N * K``; ``weights`` is 1.0 for real
      edges and 0.0 for empty slots (use it as ``graph.edges``).

    Example:
      >>> import jax.numpy as jnp
      >>> s, r, w = radius_graph_fixed(jnp.array([[0.0, 0.0], [0.5, 0.0], [3.0, 0.0]]), 1.0, 1)
      >>> s.tolist(), r.tolist(), w.tolist()
      ([1, 0, 2], [0, 1, 2], [1.0, 1.0, 0.0])
    """
    if getattr(points, "ndim", None) != 2:
        shape = getattr(points, "shape", ())
        raise ValueError(
            f"points has shape {shape} (rank {len(shape)}), expected rank 2: (num_points, dim)."
        )
    _check_cutoff(cutoff)
    n = points.shape[0]
    if not 1 <= max_neighbors <= n - 1:
        raise ValueError(f"max_neighbors is {max_neighbors}, expected 1 <= max_neighbors < {n}.")
    d2 = jnp.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)
    d2 = jnp.where(jnp.eye(n, dtype=bool), jnp.inf, d2)
    neg_d2, nbr = jax.lax.top_k(-d2, max_neighbors)  # (N, K), nearest first
    valid = -neg_d2 <= cutoff**2
    receivers = jnp.repeat(jnp.arange(n, dtype=jnp.int32), max_neighbors)
    senders = jnp.where(valid, nbr, jnp.arange(n)[:, None]).reshape(-1).astype(jnp.int32)
    return senders, receivers, valid.reshape(-1).astype(points.dtype)


def _check_indices(name: str, idx: np.ndarray, n_nodes: int) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n_nodes):
        bad = int(idx.max() if idx.max() >= n_nodes else idx.min())
        raise ValueError(
            f"{name} contains node index {bad}, but the graph has {n_nodes} nodes "
            f"(expected indices in [0, {n_nodes}))."
        )


def add_self_loops(
    senders: Int[np.ndarray, " e"], receivers: Int[np.ndarray, " e"], n_nodes: int
) -> tuple[Int[np.ndarray, " e2"], Int[np.ndarray, " e2"]]:
    """Appends ``(i, i)`` for every node ``i < n_nodes`` that has no self-loop yet."""
    senders, receivers = np.asarray(senders), np.asarray(receivers)
    has_loop = np.zeros(n_nodes, bool)
    has_loop[senders[senders == receivers]] = True
    new = np.flatnonzero(~has_loop).astype(senders.dtype if senders.size else np.int32)
    return np.concatenate([senders, new]), np.concatenate([receivers, new])


def graphs_tuple(
    nodes: Float[np.ndarray, " n *features"],
    senders: Int[np.ndarray, " e"],
    receivers: Int[np.ndarray, " e"],
    *,
    edges: Float[np.ndarray, " e"] | None = None,
    self_loops: bool = False,
    globals_: np.ndarray | None = None,
) -> GraphsTuple:
    """One graph as a ``GraphsTuple``; the node count is ``len(nodes)``, not ``max(edges)+1``.

    Args:
      nodes: ``(N, ...)`` node features (their count fixes the number of nodes).
      senders, receivers: ``(E,)`` integer node indices in ``[0, N)``.
      edges: optional ``(E,)`` edge weights.
      self_loops: add ``(i, i)`` with weight 1 for every node without one.
      globals_: optional per-graph features, shape ``(1, ...)``.

    Raises:
      ValueError: if an index points past the node count, or shapes disagree.

    Example:
      >>> import numpy as np
      >>> g = graphs_tuple(np.ones((3, 1)), np.array([0, 1]), np.array([1, 0]), self_loops=True)
      >>> g.n_node.tolist(), g.n_edge.tolist(), g.senders.tolist()
      ([3], [5], [0, 1, 0, 1, 2])
    """
    nodes = np.asarray(nodes)
    senders, receivers = np.asarray(senders), np.asarray(receivers)
    if nodes.ndim < 1:
        raise ValueError(f"nodes has shape {nodes.shape}, expected (num_nodes, ...).")
    for name, idx in (("senders", senders), ("receivers", receivers)):
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(
                f"{name} has shape {idx.shape} and dtype {idx.dtype}, expected (E,) integers."
            )
    if senders.shape != receivers.shape:
        raise ValueError(
            f"senders has shape {senders.shape}, expected receivers' shape {receivers.shape}."
        )
    n = nodes.shape[0]
    _check_indices("senders", senders, n)
    _check_indices("receivers", receivers, n)
    if edges is not None:
        edges = np.asarray(edges, np.float32)
        if edges.shape != senders.shape:
            raise ValueError(f"edges has shape {edges.shape}, expected {senders.shape}.")
    if self_loops:
        num_real = len(senders)
        senders, receivers = add_self_loops(senders, receivers, n)
        if edges is not None:
            edges = np.concatenate([edges, np.ones(len(senders) - num_real, np.float32)])
    return GraphsTuple(
        nodes=nodes,
        edges=edges,
        senders=senders.astype(np.int32),
        receivers=receivers.astype(np.int32),
        n_node=np.array([n], np.int32),
        n_edge=np.array([len(senders)], np.int32),
        globals=globals_,
    )


NODE_FEATURES = ("identity", "degree")


def one_hot_node_features(graph: GraphsTuple, *, kind: str, width: int) -> np.ndarray:
    """``(N, width)`` one-hot input features of one graph's nodes.

    ``"identity"``: node ``i`` gets ``e_i`` (GNN-LRP's ``X = eye(N)``, padded to ``width``
    columns; in a Barabási–Albert graph ``i`` is the node's arrival order). ``"degree"``:
    the one-hot in-degree, capped at ``width - 1``. Constant features cannot separate
    graphs for a bias-free ReLU network: every node's state would be a positive multiple
    of one vector, so the argmax would be the same for every graph.

    Args:
      graph: one graph (``n_node`` of shape ``(1,)``).
      kind: ``"identity"`` or ``"degree"``.
      width: feature columns; at least the node count for ``"identity"``.

    Returns:
      ``(N, width)`` float32 array.

    Raises:
      ValueError: if ``kind`` is unknown.

    Example:
      >>> g = barabasi_albert(4, 1, seed=0)
      >>> one_hot_node_features(g, kind="identity", width=5).shape
      (4, 5)
    """
    if kind not in NODE_FEATURES:
        raise ValueError(f"kind is {kind!r}, expected one of {', '.join(NODE_FEATURES)}.")
    n = int(graph.n_node[0])
    if kind == "identity":
        return np.eye(n, width, dtype=np.float32)
    degree = np.bincount(graph.receivers, minlength=n)
    return np.eye(width, dtype=np.float32)[np.minimum(degree, width - 1)]


def batch_graphs(graphs: Sequence[GraphsTuple]) -> GraphsTuple:
    """Concatenates graphs into one ``GraphsTuple`` (node indices offset), on the host."""
    return jraph.batch_np(list(graphs))


def pad_graphs(graph: GraphsTuple, *, n_node: int, n_edge: int, n_graph: int) -> GraphsTuple:
    """Pads a (batched) graph to fixed node, edge and graph budgets: one compilation for all.

    Wraps ``jraph.pad_with_graphs``: the padding nodes and edges form one extra graph
    after the real ones (its edges all point at its first node), followed by empty graphs.
    Edge weights are set to 1 for real edges when ``graph.edges`` is ``None`` and are 0 for
    padding edges, so padding carries no message in any weighted aggregation.

    Args:
      graph: a graph or a batch of graphs.
      n_node: total nodes after padding; more than the real ones (jraph needs one
        padding node).
      n_edge: total edges after padding, at least the real ones.
      n_graph: total graphs after padding, more than the real ones.

    Raises:
      ValueError: if a budget is too small for ``graph``.
    """
    real = (int(np.sum(graph.n_node)), int(np.sum(graph.n_edge)), len(graph.n_node))
    for name, budget, have, extra in zip(
        ("n_node", "n_edge", "n_graph"), (n_node, n_edge, n_graph), real, (1, 0, 1), strict=True
    ):
        if budget < have + extra:
            raise ValueError(
                f"{name} is {budget}, expected at least {have + extra} for a graph with "
                f"{have} real {name[2:]}s" + (" plus one for padding." if extra else ".")
            )
    if graph.edges is None:
        graph = graph._replace(edges=np.ones(len(graph.senders), np.float32))
    return jraph.pad_with_graphs(graph, n_node, n_edge, n_graph)


def node_mask(padded: GraphsTuple) -> Bool[Array, " n"]:
    """True for real nodes of a graph padded by :func:`pad_graphs` (jit-friendly)."""
    return jraph.get_node_padding_mask(padded)


def graph_mask(padded: GraphsTuple) -> Bool[Array, " g"]:
    """True for real graphs of a graph padded by :func:`pad_graphs` (jit-friendly)."""
    return jraph.get_graph_padding_mask(padded)


def node_graph_index(graph: GraphsTuple) -> Int[Array, " n"]:
    """The index of the graph each node belongs to, with static shapes (jit-friendly)."""
    n_graph = graph.n_node.shape[0]
    n_total = jax.tree.leaves(graph.nodes)[0].shape[0]
    return jnp.repeat(jnp.arange(n_graph), graph.n_node, total_repeat_length=n_total)


def karate_club() -> tuple[GraphsTuple, Int[np.ndarray, " 34"]]:
    """Zachary's karate club (networkx) with one-hot node features, as Kipf & Welling.

    Returns:
      ``(graph, labels)``: 34 nodes, both directions of the 78 friendships (156 edges,
      no self-loops), ``nodes = eye(34)``; ``labels[i]`` is 0 for Mr. Hi's club and 1
      for the Officer's, as recorded after the split.
    """
    import networkx as nx

    g = nx.karate_club_graph()
    n = g.number_of_nodes()
    pairs = np.array(g.edges(), np.int32)
    senders = np.concatenate([pairs[:, 0], pairs[:, 1]])
    receivers = np.concatenate([pairs[:, 1], pairs[:, 0]])
    labels = np.array([g.nodes[i]["club"] != "Mr. Hi" for i in range(n)], np.int32)
    return graphs_tuple(np.eye(n, dtype=np.float32), senders, receivers), labels


def barabasi_albert(num_nodes: int, growth: int, *, seed: int) -> GraphsTuple:
    """A Barabási–Albert graph: each new node attaches to ``growth`` existing ones.

    Nodes carry one constant feature (1.0): a model has to read the structure, not
    node identities. Both directions of every edge are listed, no self-loops.
    """
    import networkx as nx

    if not 1 <= growth < num_nodes:
        raise ValueError(f"growth is {growth}, expected 1 <= growth < num_nodes={num_nodes}.")
    pairs = np.array(nx.barabasi_albert_graph(num_nodes, growth, seed=seed).edges(), np.int32)
    senders = np.concatenate([pairs[:, 0], pairs[:, 1]])
    receivers = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return graphs_tuple(np.ones((num_nodes, 1), np.float32), senders, receivers)


def ba_dataset(
    num_graphs: int,
    *,
    min_nodes: int = 10,
    max_nodes: int = 20,
    growths: Sequence[int] = (1, 2),
    seed: int = 0,
) -> tuple[list[GraphsTuple], Int[np.ndarray, " g"]]:
    """Barabási–Albert graphs of random size; the label is the index of the growth used.

    The GNN-LRP demonstration task (Schnake et al.): tell graphs grown with one edge per
    new node (trees) from graphs grown with two.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(growths), num_graphs).astype(np.int32)
    sizes = rng.integers(min_nodes, max_nodes + 1, num_graphs)
    seeds = rng.integers(0, 2**31 - 1, num_graphs)
    graphs = [
        barabasi_albert(int(n), growths[c], seed=int(s))
        for n, c, s in zip(sizes, labels, seeds, strict=True)
    ]
    return graphs, labels


def point_cloud(key: jax.Array, num_points: int, *, dim: int = 2) -> Float[Array, " n dim"]:
    """``num_points`` points uniform in the unit cube ``[0, 1]^dim``."""
    return jax.random.uniform(key, (num_points, dim))


def cutoff_for_degree(num_points: int, mean_degree: float) -> float:
    """The 2-D cutoff giving ``mean_degree`` neighbours on average, for unit-square points.

    A disk of radius ``r`` holds ``num_points * pi * r^2`` points on average (ignoring the
    border), so ``r = sqrt(mean_degree / (pi * num_points))``.
    """
    return float(np.sqrt(mean_degree / (np.pi * num_points)))
