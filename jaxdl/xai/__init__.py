"""Explanations: GNN-LRP relevant walks for graph networks (``jaxdl.xai.gnn_lrp``)."""
