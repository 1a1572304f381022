"""Flax NNX modules. Every model takes ``(x, *, train=False, key=None)``."""

from jaxdl.nn._dropout import Dropout
from jaxdl.nn.cnn import CNNClassifier, ConvBlock
from jaxdl.nn.conv import Conv, conv_general_dilated, conv_impl, set_conv_impl
from jaxdl.nn.gnn import GCN, GCNConv, GraphNet, gcn_norm
from jaxdl.nn.mlp import MLPClassifier, ReluMLP
from jaxdl.nn.pooling import max_pool

__all__ = [
    "CNNClassifier",
    "Conv",
    "ConvBlock",
    "Dropout",
    "GCN",
    "GCNConv",
    "GraphNet",
    "MLPClassifier",
    "ReluMLP",
    "conv_general_dilated",
    "conv_impl",
    "gcn_norm",
    "max_pool",
    "set_conv_impl",
]
