from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn import CNNClassifier, Dropout, MLPClassifier, ReluMLP


@pytest.mark.parametrize(("hidden", "num_linear"), [((6, 8, 6), 4), ((), 1), ((16,), 2)])
def test_relu_mlp_shapes_and_layers(hidden, num_linear):
    model = ReluMLP(4, hidden, 3, rngs=nnx.Rngs(0))
    assert len(model.layers) == num_linear
    chex.assert_shape(model(jnp.ones((5, 4))), (5, 3))
    chex.assert_shape(model(jnp.ones((2, 5, 4))), (2, 5, 3))
    with pytest.raises(ValueError, match=r"x has shape \(5, 3\)"):
        model(jnp.ones((5, 3)))


def test_relu_mlp_without_hidden_is_affine():
    model = ReluMLP(2, (), 1, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (7, 2))
    expected = x @ model.layers[0].kernel[...] + model.layers[0].bias[...]
    chex.assert_trees_all_close(model(x), expected)


def test_mlp_classifier_shapes_and_errors():
    model = MLPClassifier((28, 28, 1), hidden=(32, 16), num_classes=10, rngs=nnx.Rngs(0))
    chex.assert_shape(model(jnp.ones((3, 28, 28, 1))), (3, 10))
    with pytest.raises(ValueError, match="x has shape"):
        model(jnp.ones((3, 28, 28)))


def test_cnn_classifier_shapes_and_errors():
    model = CNNClassifier(channels=(4, 8), hidden=(16,), rngs=nnx.Rngs(0))
    chex.assert_shape(model(jnp.ones((3, 28, 28, 1))), (3, 10))
    out = model(jnp.ones((3, 28, 28, 1)), train=True, key=jax.random.key(0))
    chex.assert_shape(out, (3, 10))
    with pytest.raises(ValueError, match="x has shape"):
        model(jnp.ones((3, 28, 28, 3)))
    with pytest.raises(ValueError, match="divisible"):
        CNNClassifier((30, 30, 1), channels=(4, 8, 16), rngs=nnx.Rngs(0))


def test_cnn_batchnorm_updates_only_in_training():
    model = CNNClassifier(channels=(4,), hidden=(8,), rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (8, 28, 28, 1)) + 3.0
    before = jax.tree.map(jnp.copy, nnx.state(model, nnx.BatchStat))
    model(x, train=False)
    chex.assert_trees_all_equal(before, nnx.state(model, nnx.BatchStat))
    model(x, train=True, key=jax.random.key(0))
    after = nnx.state(model, nnx.BatchStat)
    assert not np.allclose(
        before["blocks"][0]["norms"][0]["layer"]["mean"][...],
        after["blocks"][0]["norms"][0]["layer"]["mean"][...],
    )


def test_dropout_is_driven_by_the_key():
    model = MLPClassifier((4,), hidden=(64,), num_classes=3, dropout=0.5, rngs=nnx.Rngs(0))
    x = jnp.ones((2, 4))
    a = model(x, train=True, key=jax.random.key(0))
    b = model(x, train=True, key=jax.random.key(0))
    c = model(x, train=True, key=jax.random.key(1))
    chex.assert_trees_all_equal(a, b)
    assert not np.allclose(a, c)
    chex.assert_trees_all_equal(model(x), model(x, train=False, key=jax.random.key(3)))
    with pytest.raises(ValueError, match="key is None"):
        model(x, train=True)


def test_dropout_keeps_the_expectation():
    drop = Dropout(0.25)
    y = drop(jnp.ones((200_000,)), train=True, key=jax.random.key(0))
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert abs(float((y == 0).mean()) - 0.25) < 0.01
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda r: CNNClassifier(channels=(4, 8), hidden=(16,), rngs=r),
        lambda r: MLPClassifier(hidden=(16,), rngs=r),
    ],
)
def test_same_seed_same_params(make):
    a = nnx.state(make(nnx.Rngs(params=jax.random.key(3))), nnx.Param)
    b = nnx.state(make(nnx.Rngs(params=jax.random.key(3))), nnx.Param)
    c = nnx.state(make(nnx.Rngs(params=jax.random.key(4))), nnx.Param)
    chex.assert_trees_all_equal(a, b)
    assert not all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(c), strict=True)
    )
