"""Graph neural networks on jraph ``GraphsTuple``: GCN layers, the seed's GraphNet.

Graphs are built, padded and batched with :mod:`jaxdl.data.graphs`. This package loads
jraph, which is why ``jaxdl.nn`` does not import it.
"""

from jaxdl.graph.layers import (
    GCN,
    GCNConv,
    GraphNet,
    check_edge_indices,
    edge_weights,
    gcn_norm,
    graph_mean,
    propagate,
)

__all__ = [
    "GCN",
    "GCNConv",
    "GraphNet",
    "check_edge_indices",
    "edge_weights",
    "gcn_norm",
    "graph_mean",
    "propagate",
]
