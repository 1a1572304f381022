"""Flax NNX modules. Every model takes ``(x, *, train=False, key=None)``.

Graph networks are in :mod:`jaxdl.graph` and neural ODEs in :mod:`jaxdl.ode`, so that
importing this package loads neither jraph nor diffrax.
"""

from jaxdl.nn._dropout import Dropout
from jaxdl.nn.bert import DistilBertClassifier, SentenceEncoder
from jaxdl.nn.cnn import CNNClassifier, ConvBlock
from jaxdl.nn.conv import Conv
from jaxdl.nn.decoder import GPT, DecoderBlock, GPTConfig
from jaxdl.nn.detach import LRP, Detach
from jaxdl.nn.mlp import MLPClassifier, ReluMLP
from jaxdl.nn.norm import NORMS, GroupNorm, Norm
from jaxdl.nn.pooling import max_pool
from jaxdl.nn.positions import apply_rotary, sinusoidal_positions
from jaxdl.nn.simclr import SimCLRNet
from jaxdl.nn.transformer import TransformerConfig, TransformerEncoder

__all__ = [
    "LRP",
    "CNNClassifier",
    "Conv",
    "ConvBlock",
    "DecoderBlock",
    "Detach",
    "DistilBertClassifier",
    "Dropout",
    "GPT",
    "GPTConfig",
    "MLPClassifier",
    "NORMS",
    "GroupNorm",
    "Norm",
    "ReluMLP",
    "SentenceEncoder",
    "SimCLRNet",
    "TransformerConfig",
    "TransformerEncoder",
    "apply_rotary",
    "max_pool",
    "sinusoidal_positions",
]
