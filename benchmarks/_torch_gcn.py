"""PyTorch versions of the seed's ``GraphConv``: as written, and with its bugs fixed.

Both take ``edges`` as the seed does: an ``(E, 2)`` long tensor from
``torch.nonzero(adjacency)``, symmetric, self-loops included (``d(i, i) = 0 <= cutoff``).
``torch_scatter.scatter_add`` of the seed is replaced by ``Tensor.index_add_``, which sums
the same way, so no compiled extension is needed.

- :class:`SeedGraphConv` keeps the seed's three bugs (see shared/DESIGN.md): it gathers
  messages from ``edges[:, 0]`` and scatters them back to ``edges[:, 0]``, so node ``i``
  only sums scaled copies of ``x[i]``; ``torch.unique`` over both columns counts every
  edge twice (and compacts node ids, so a node absent from ``edges`` shifts the degrees
  of later ones); the node count is ``max(edges) + 1``, dropping trailing isolated nodes.
- :class:`CorrectedGraphConv` is the layer the seed meant: messages from ``edges[:, 1]``
  to ``edges[:, 0]``, the in-degree counted once with ``bincount``, the node count from
  ``x``. On symmetric edges with self-loops it is ``D^-1/2 (A+I) D^-1/2 X Theta``, i.e.
  torch_geometric's ``GCNConv`` without bias.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def seed_edges(points: torch.Tensor, cutoff: float) -> torch.Tensor:
    """The seed's ``compute_edges``: ``(E, 2)`` indices of pairs within ``cutoff``."""
    distances = torch.sqrt(torch.sum((points[:, None, :] - points[None, :, :]) ** 2, dim=-1))
    return torch.nonzero(distances <= cutoff)


class SeedGraphConv(nn.Module):
    """The seed's ``GraphConv`` exactly as written (bugs included)."""

    def __init__(self, n_in: int, n_out: int, activation=F.relu):
        super().__init__()
        self.activation = activation
        self.theta = nn.Parameter(torch.empty((n_in, n_out)))
        nn.init.xavier_uniform_(self.theta)

    def forward(self, x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        _, degree = torch.unique(edges, return_counts=True)
        incoming, outgoing = edges[:, 0], edges[:, 1]
        message = x[incoming] / torch.sqrt(degree[incoming] * degree[outgoing])[:, None]
        n_nodes = int(torch.max(edges)) + 1
        aggregated = torch.zeros(n_nodes, x.shape[1], dtype=x.dtype).index_add_(
            0, incoming, message
        )
        return self.activation(torch.mm(aggregated, self.theta))


class CorrectedGraphConv(SeedGraphConv):
    """The seed's ``GraphConv`` as intended: a GCN layer with scatter-add via ``index_add_``
    (the seed's parameters and initialisation, only ``forward`` differs)."""

    def forward(self, x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        n_nodes = x.shape[0]
        target, source = edges[:, 0], edges[:, 1]
        degree = torch.bincount(target, minlength=n_nodes).to(x.dtype)
        norm = torch.rsqrt(degree[target] * degree[source])
        message = x[source] * norm[:, None]
        aggregated = torch.zeros_like(x).index_add_(0, target, message)
        return self.activation(torch.mm(aggregated, self.theta))
