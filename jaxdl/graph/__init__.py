"""Graph neural networks on jraph ``GraphsTuple``: GCN layers, the seed's GraphNet.

Graphs are built, padded and batched with :mod:`jaxdl.data.graphs`. This package loads
jraph, which is why ``jaxdl.nn`` does not import it.
"""

from jaxdl._extras import missing_extra

try:
    import jraph  # noqa: F401  (checked first: a missing extra fails with its install line)
except ImportError as e:
    raise missing_extra("jaxdl.graph", "graph", e, "jraph") from e

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
