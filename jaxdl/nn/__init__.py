"""Flax NNX modules. Every model takes ``(x, *, train=False, key=None)``."""

from jaxdl.nn._dropout import Dropout
from jaxdl.nn.cnn import CNNClassifier, ConvBlock
from jaxdl.nn.conv import Conv, conv_general_dilated, conv_impl, set_conv_impl
from jaxdl.nn.gnn import GCN, GCNConv, GraphNet, gcn_norm
from jaxdl.nn.mlp import MLPClassifier, ReluMLP
from jaxdl.nn.neural_ode import NeuralODE
from jaxdl.nn.norm import NORMS, Norm
from jaxdl.nn.pooling import max_pool
from jaxdl.nn.simclr import SimCLRNet
from jaxdl.nn.transformer import (
    LRP,
    Detach,
    DistilBertClassifier,
    SentenceEncoder,
    TransformerConfig,
    TransformerEncoder,
)

__all__ = [
    "LRP",
    "CNNClassifier",
    "Conv",
    "ConvBlock",
    "Detach",
    "DistilBertClassifier",
    "Dropout",
    "GCN",
    "GCNConv",
    "GraphNet",
    "MLPClassifier",
    "NORMS",
    "NeuralODE",
    "Norm",
    "ReluMLP",
    "SentenceEncoder",
    "SimCLRNet",
    "TransformerConfig",
    "TransformerEncoder",
    "conv_general_dilated",
    "conv_impl",
    "gcn_norm",
    "max_pool",
    "set_conv_impl",
]
