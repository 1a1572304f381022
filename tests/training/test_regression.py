from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.losses import mean_squared_error
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
    with pytest.raises(ValueError, match="num_epochs is 0"):
        train_mlp(model, jnp.zeros((4, 2)), jnp.zeros(4), key=jax.random.key(0), num_epochs=0)


def test_train_mlp_is_the_seed_loop():
    """The seed's loop written out: epoch e (from 0) permutes with fold_in(key, e), drops
    the remainder, steps plain SGD; the log is each epoch's mean batch loss."""
    x = jax.random.normal(jax.random.key(3), (23, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5])
    model = ReluMLP(3, (8,), 1, rngs=nnx.Rngs(1))
    key, lr, batch = jax.random.key(7), 0.05, 5
    fitted, losses = train_mlp(model, x, y, key=key, num_epochs=3, batch_size=batch,
                               learning_rate=lr)  # fmt: skip

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p, xb, yb):
        return mean_squared_error(nnx.merge(graphdef, p, rest)(xb), yb[:, None]).mean()

    want = []
    for e in range(3):
        order = jax.random.permutation(jax.random.fold_in(key, e), 23)[:20].reshape(4, batch)
        epoch = []
        for idx in order:
            value, grads = jax.value_and_grad(loss)(params, x[idx], y[idx])
            params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
            epoch.append(float(value))
        want.append(np.mean(epoch))
    np.testing.assert_allclose(losses, want, rtol=1e-5)
    got = nnx.state(fitted, nnx.Param)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got, params)
