from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn import ReluMLP
from jaxdl.training.regression import train_mlp


def test_train_mlp_fits_a_smooth_function():
    x = jax.random.uniform(jax.random.key(0), (512, 2), minval=-1, maxval=1)
    y = jnp.sin(2 * x[:, 0]) + x[:, 1] ** 2
    model = ReluMLP(2, (32, 32), 1, rngs=nnx.Rngs(0))
    fitted, losses = train_mlp(
        model, x, y, key=jax.random.key(1), num_epochs=100, batch_size=32, learning_rate=0.05
    )
    assert losses.shape == (100,)
    assert float(losses[-1]) < 0.01 < float(losses[0])
    test_x = jax.random.uniform(jax.random.key(2), (256, 2), minval=-1, maxval=1)
    err = fitted(test_x)[:, 0] - (jnp.sin(2 * test_x[:, 0]) + test_x[:, 1] ** 2)
    assert float(jnp.mean(err**2)) < 0.02
    # The input model is untouched: the function is pure.
    np.testing.assert_array_equal(
        model.layers[0].kernel[...], ReluMLP(2, (32, 32), 1, rngs=nnx.Rngs(0)).layers[0].kernel[...]
    )


def test_train_mlp_validates_shapes():
    model = ReluMLP(2, (), 1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="y has 3 rows"):
        train_mlp(model, jnp.zeros((4, 2)), jnp.zeros(3), key=jax.random.key(0))
    with pytest.raises(ValueError, match="batch_size is 10"):
        train_mlp(model, jnp.zeros((4, 2)), jnp.zeros(4), key=jax.random.key(0))
