"""Flax NNX modules. Every model takes ``(x, *, train=False, key=None)``."""

from jaxdl.nn._dropout import Dropout
from jaxdl.nn.bert import DistilBertClassifier, SentenceEncoder
from jaxdl.nn.cnn import CNNClassifier, ConvBlock
from jaxdl.nn.conv import Conv
from jaxdl.nn.gnn import GCN, GCNConv, GraphNet, gcn_norm
from jaxdl.nn.mlp import MLPClassifier, ReluMLP
from jaxdl.nn.neural_ode import NeuralODE
from jaxdl.nn.norm import NORMS, Norm
from jaxdl.nn.pooling import max_pool
from jaxdl.nn.transformer import LRP, Detach, TransformerConfig, TransformerEncoder

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
    "TransformerConfig",
    "TransformerEncoder",
    "gcn_norm",
    "max_pool",
]
