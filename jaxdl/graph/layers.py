"""Graph neural networks on jraph ``GraphsTuple``: GCN convolution and the seed's GraphNet.

Messages flow from ``graph.senders`` to ``graph.receivers``; ``graph.edges`` is ``None``
or ``(E,)`` edge weights (0 for padding, see :mod:`jaxdl.data.graphs`). The node count is
``graph.nodes.shape[0]``, a static shape, so padded batches of different graphs share one
compiled program. These layers live outside :mod:`jaxdl.nn` so that ``import jaxdl.nn``
does not load jraph.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx
from jaxtyping import Array, Bool, Float

from jaxdl._checks import check_rank
from jaxdl.nn._dropout import Dropout, split_key


def _num_nodes(graph: jraph.GraphsTuple) -> int:
    return jax.tree.leaves(graph.nodes)[0].shape[0]


def _concrete(x) -> np.ndarray | None:
    """``x`` as NumPy when its values are known (eager call), ``None`` under tracing."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_edge_indices(graph: jraph.GraphsTuple) -> None:
    """Raises ``ValueError`` if an edge points past the node count (eager calls only).

    Under ``jit`` the indices are not known; there, out-of-range senders read zeros and
    out-of-range receivers are dropped rather than silently aliasing the last node.
    """
    n = _num_nodes(graph)
    for name in ("senders", "receivers"):
        idx = _concrete(getattr(graph, name))
        if idx is not None and idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = int(idx.max() if idx.max() >= n else idx.min())
            raise ValueError(
                f"graph.{name} contains node index {bad}, but the graph has {n} nodes "
                f"(expected indices in [0, {n}))."
            )


def edge_weights(graph: jraph.GraphsTuple, dtype=jnp.float32) -> Float[Array, " e"]:
    """``graph.edges`` as ``(E,)`` weights, or ones when the graph has none."""
    if graph.edges is None:
        return jnp.ones(graph.senders.shape, dtype)
    w = jnp.asarray(graph.edges, dtype)
    if w.shape != graph.senders.shape:
        raise ValueError(
            f"graph.edges has shape {w.shape}, expected edge weights of shape "
            f"{graph.senders.shape} (or None)."
        )
    return w


def gcn_norm(
    graph: jraph.GraphsTuple, *, add_self_loops: bool = True, dtype=jnp.float32
) -> tuple[Float[Array, " e"], Float[Array, " n"]]:
    r"""Coefficients of :math:`\hat D^{-1/2} \hat A \hat D^{-1/2}`, computed from the graph.

    :math:`\hat A = A + I` (``add_self_loops``) with ``A[s, r]`` the weight of edge
    ``s -> r`` and :math:`\hat D_{rr} = \sum_s \hat A_{sr}` the weighted in-degree, as
    torch_geometric's ``gcn_norm``. Self-loops already in the graph keep their weight
    and replace the added one (torch_geometric's ``add_remaining_self_loops``); edges of
    weight 0 (padding) count for nothing, not even as self-loops. Nodes of degree 0 get
    coefficient 0 instead of a division by zero.

    Returns:
      ``(edge_coef, self_coef)``: ``out[r] = sum_e edge_coef[e] h[senders[e]]`` over edges
      into ``r``, plus ``self_coef[r] h[r]``.
    """
    n = _num_nodes(graph)
    s, r = graph.senders, graph.receivers
    w = edge_weights(graph, dtype)
    if add_self_loops:
        loop = (s == r) & (w != 0)
        # Existing self-loops set their node's weight (out-of-range index N: dropped).
        self_w = jnp.ones(n, dtype).at[jnp.where(loop, s, n)].set(w, mode="drop")
        w = jnp.where(loop, 0.0, w)
    else:
        self_w = jnp.zeros(n, dtype)
    deg = jax.ops.segment_sum(w, r, n) + self_w
    inv_sqrt = jnp.where(deg > 0, jax.lax.rsqrt(jnp.where(deg > 0, deg, 1.0)), 0.0)
    src = inv_sqrt.at[s].get(mode="fill", fill_value=0.0)
    dst = inv_sqrt.at[r].get(mode="fill", fill_value=0.0)
    return src * w * dst, self_w * inv_sqrt**2


def propagate(
    graph: jraph.GraphsTuple, h: Float[Array, " n f"], edge_coef: Float[Array, " e"]
) -> Float[Array, " n f"]:
    """``out[r] = sum over edges s -> r of edge_coef[e] * h[s]`` (scatter-add)."""
    msg = h.at[graph.senders].get(mode="fill", fill_value=0.0) * edge_coef[:, None]
    return jax.ops.segment_sum(msg, graph.receivers, h.shape[0])


class GCNConv(nnx.Module):
    r"""Graph convolution of Kipf & Welling: :math:`\hat D^{-1/2}(A+I)\hat D^{-1/2} X \Theta + b`.

    Same definition and parameter layout as torch_geometric's ``GCNConv`` (``kernel`` is
    ``lin.weight.T``), Glorot-uniform kernel and zero bias. No activation: compose it.
    Unlike the seed's ``GraphConv``, messages go from sender to receiver, degrees count
    each edge once, and the node count comes from ``nodes``, not ``max(edges) + 1``.

    Example:
      >>> import numpy as np
      >>> from flax import nnx
      >>> from jaxdl.data.graphs import graphs_tuple
      >>> g = graphs_tuple(np.ones((3, 2)), np.array([0, 1]), np.array([1, 0]))
      >>> GCNConv(2, 4, rngs=nnx.Rngs(0))(g).shape
      (3, 4)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        use_bias: bool = True,
        add_self_loops: bool = True,
        rngs: nnx.Rngs,
    ):
        self.in_features, self.out_features = in_features, out_features
        self.add_self_loops = add_self_loops
        init = jax.nn.initializers.glorot_uniform()
        self.kernel = nnx.Param(init(rngs.params(), (in_features, out_features)))
        self.bias = nnx.Param(jnp.zeros((out_features,))) if use_bias else None

    def __call__(
        self,
        graph: jraph.GraphsTuple,
        x: Float[Array, " n in"] | None = None,
        *,
        norm: tuple[jax.Array, jax.Array] | None = None,
        node_mask: Bool[Array, " n"] | None = None,
    ) -> Float[Array, " n out"]:
        """Convolves ``x`` (default ``graph.nodes``) over ``graph``.

        ``norm`` reuses the output of :func:`gcn_norm` (e.g. across layers on one graph).
        ``node_mask`` (e.g. :func:`jaxdl.data.graphs.node_mask` of a padded batch) zeroes
        the rows of padding nodes; real nodes never depend on them either way, because
        padding edges have weight 0 and stay inside the padding graph.
        """
        x = graph.nodes if x is None else x
        check_rank("x", x, rank=2)
        if x.shape != (_num_nodes(graph), self.in_features):
            raise ValueError(
                f"x has shape {x.shape}, expected ({_num_nodes(graph)}, {self.in_features}): "
                "one row of in_features per node of the graph."
            )
        check_edge_indices(graph)
        edge_coef, self_coef = (
            gcn_norm(graph, add_self_loops=self.add_self_loops) if norm is None else norm
        )
        h = x @ self.kernel[...]
        out = propagate(graph, h, edge_coef) + self_coef[:, None] * h
        out = out if self.bias is None else out + self.bias[...]
        return out if node_mask is None else jnp.where(node_mask[:, None], out, 0.0)


class GCN(nnx.Module):
    """GCN node classifier: ``GCNConv -> ReLU -> Dropout`` blocks, then a ``GCNConv`` head.

    Kipf & Welling's two-layer model is ``hidden=(16,)``. Dropout acts on each layer's
    input, as in their implementation.

    Example:
      >>> from flax import nnx
      >>> from jaxdl.data.graphs import karate_club
      >>> graph, labels = karate_club()
      >>> GCN(34, (16,), 2, rngs=nnx.Rngs(0))(graph).shape
      (34, 2)
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (16,),
        num_classes: int = 2,
        *,
        dropout: float = 0.5,
        rngs: nnx.Rngs,
    ):
        widths = [in_features, *hidden, num_classes]
        self.convs = nnx.List(
            [GCNConv(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        )
        self.dropout = Dropout(dropout)

    def __call__(
        self,
        graph: jraph.GraphsTuple,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        node_mask: Bool[Array, " n"] | None = None,
    ) -> Float[Array, " n classes"]:
        norm = gcn_norm(graph)  # shared by every layer: same graph
        x = graph.nodes
        keys = split_key(key, len(self.convs))
        for i, (conv, k) in enumerate(zip(self.convs, keys, strict=True)):
            x = conv(graph, self.dropout(x, train=train, key=k), norm=norm, node_mask=node_mask)
            if i < len(self.convs) - 1:
                x = jax.nn.relu(x)
        return x


def graph_mean(graph: jraph.GraphsTuple, h: Float[Array, " n f"]) -> Float[Array, " g f"]:
    """Mean of ``h`` over the nodes of each graph (0 for graphs without nodes)."""
    n_graph = graph.n_node.shape[0]
    idx = jnp.repeat(jnp.arange(n_graph), graph.n_node, total_repeat_length=h.shape[0])
    total = jax.ops.segment_sum(h, idx, n_graph)
    return total / jnp.maximum(graph.n_node, 1)[:, None].astype(h.dtype)


class GraphNet(nnx.Module):
    """The seed's GraphNet (Schnake et al.'s GNN-LRP demo) on batched, padded graphs.

    ``H0 = relu(X U)``, ``H1 = relu(A^T H0 W1)``, ``H2 = relu(A^T H1 W2)``,
    ``out = mean over nodes of relu(H2 V)``, per graph; no biases (LRP conservation
    relies on it). ``A`` is the weighted adjacency in ``graph``: ``A^T H`` sums, at each
    receiver, the weighted rows of its senders. Include self-loops in the graph for
    ``A + I``. Weights are drawn from ``N(0, 1/fan_in)`` as in the seed.

    ``output_relu=False`` drops the last ReLU, making the scores logits. With it (the
    seed), scores are >= 0, and under a softmax cross-entropy a class whose score reaches
    0 on every graph gets no gradient again: 2 of 6 training seeds of the ``gnn_lrp``
    recipe ended at chance that way (none without it).

    Example:
      >>> import numpy as np
      >>> from flax import nnx
      >>> from jaxdl.data.graphs import barabasi_albert, batch_graphs
      >>> g = batch_graphs([barabasi_albert(6, 1, seed=0), barabasi_albert(8, 2, seed=1)])
      >>> GraphNet(1, 8, 2, rngs=nnx.Rngs(0))(g).shape
      (2, 2)
    """

    def __init__(
        self,
        in_features: int,
        hidden: int,
        num_classes: int,
        *,
        output_relu: bool = True,
        rngs: nnx.Rngs,
    ):
        def normal(fan_in: int, shape: tuple[int, int]) -> nnx.Param:
            return nnx.Param(jax.random.normal(rngs.params(), shape) * fan_in**-0.5)

        self.in_features = in_features
        self.output_relu = output_relu
        self.U = normal(in_features, (in_features, hidden))
        self.W1 = normal(hidden, (hidden, hidden))
        self.W2 = normal(hidden, (hidden, hidden))
        self.V = normal(hidden, (hidden, num_classes))

    def __call__(
        self, graph: jraph.GraphsTuple, *, train: bool = False, key: jax.Array | None = None
    ) -> Float[Array, " g classes"]:
        del train, key  # no dropout: kept for the common model signature
        x = graph.nodes
        check_rank("graph.nodes", x, rank=2)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"graph.nodes has shape {x.shape}, expected (num_nodes, {self.in_features})."
            )
        check_edge_indices(graph)
        w = edge_weights(graph, x.dtype)
        h = jax.nn.relu(x @ self.U[...])
        h = jax.nn.relu(propagate(graph, h @ self.W1[...], w))
        h = jax.nn.relu(propagate(graph, h @ self.W2[...], w))
        scores = h @ self.V[...]
        return graph_mean(graph, jax.nn.relu(scores) if self.output_relu else scores)
