"""Flax NNX modules. Every model takes ``(x, *, train=False, key=None)``."""

from jaxdl.nn._dropout import Dropout
from jaxdl.nn.cnn import CNNClassifier, ConvBlock
from jaxdl.nn.mlp import MLPClassifier, ReluMLP

__all__ = ["CNNClassifier", "ConvBlock", "Dropout", "MLPClassifier", "ReluMLP"]
