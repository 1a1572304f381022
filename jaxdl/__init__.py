"""jaxdl: a JAX/Flax NNX deep-learning cookbook."""

__version__ = "0.1.0"
