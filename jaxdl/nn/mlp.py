"""Multi-layer perceptrons: the seed's ``ReluMLP`` and an image classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float

from jaxdl._checks import check_rank, check_trailing_shape
from jaxdl.nn._dropout import Dropout, split_key


class ReluMLP(nnx.Module):
    """Linear layers with ReLU between them, as the seed's ``ReluMLP``.

    ``hidden=()`` gives a single linear layer, like the seed's empty ``hidden_neurons``.
    Unlike the seed it works on any leading batch shape.

    Example:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> mlp = ReluMLP(4, (6, 8, 6), 1, rngs=nnx.Rngs(0))
      >>> mlp(jnp.ones((3, 4))).shape
      (3, 1)
    """

    def __init__(
        self,
        in_features: int = 4,
        hidden: Sequence[int] = (6, 8, 6),
        out_features: int = 1,
        *,
        rngs: nnx.Rngs,
    ):
        widths = [in_features, *hidden, out_features]
        self.in_features = in_features
        self.layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        )

    def __call__(self, x: Float[Array, "*batch in"]) -> Float[Array, "*batch out"]:
        check_trailing_shape("x", x, (self.in_features,))
        for layer in self.layers[:-1]:
            x = jax.nn.relu(layer(x))
        return self.layers[-1](x)


class MLPClassifier(nnx.Module):
    """Flatten, then ``Linear -> ReLU -> Dropout`` blocks and a linear head of logits.

    Example:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> model = MLPClassifier((28, 28, 1), hidden=(32,), num_classes=10, rngs=nnx.Rngs(0))
      >>> model(jnp.ones((2, 28, 28, 1))).shape
      (2, 10)
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28, 1),
        hidden: Sequence[int] = (512, 256),
        num_classes: int = 10,
        *,
        dropout: float = 0.2,
        dtype: Any = None,
        rngs: nnx.Rngs,
    ):
        # dtype: the compute dtype (e.g. bfloat16); parameters stay float32.
        self.input_shape = tuple(input_shape)
        widths = [int(jnp.prod(jnp.array(self.input_shape))), *hidden]
        self.hidden = nnx.List(
            [
                nnx.Linear(a, b, dtype=dtype, rngs=rngs)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
        )
        self.dropout = Dropout(dropout)
        self.head = nnx.Linear(widths[-1], num_classes, dtype=dtype, rngs=rngs)

    def __call__(
        self,
        x: Float[Array, " batch *input"],
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch classes"]:
        check_rank("x", x, rank=len(self.input_shape) + 1)
        check_trailing_shape("x", x, self.input_shape)
        x = x.reshape(x.shape[0], -1)
        for layer, k in zip(self.hidden, split_key(key, len(self.hidden)), strict=True):
            x = self.dropout(jax.nn.relu(layer(x)), train=train, key=k)
        return self.head(x)
