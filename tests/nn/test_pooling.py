from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from jaxdl.nn import max_pool


@pytest.mark.parametrize(
    ("shape", "window", "strides"),
    [((2, 8, 8, 3), (2, 2), None), ((2, 9, 6, 3), (3, 2), None), ((2, 7, 7, 3), (2, 2), (2, 2))],
)
def test_max_pool_matches_flax_forward_and_gradient(shape, window, strides):
    # Continuous random inputs have no ties, so both gradients must agree exactly.
    x = jax.random.normal(jax.random.key(0), shape)
    ref = nnx.max_pool(x, window, strides=strides or window)
    chex.assert_trees_all_equal(max_pool(x, window, strides), ref)
    g = jax.random.normal(jax.random.key(1), ref.shape)
    grad = jax.grad(lambda x: (max_pool(x, window, strides) * g).sum())(x)
    grad_ref = jax.grad(lambda x: (nnx.max_pool(x, window, strides=strides or window) * g).sum())(x)
    chex.assert_trees_all_close(grad, grad_ref)


def test_max_pool_fast_path_avoids_select_and_scatter():
    jaxpr = str(
        jax.make_jaxpr(jax.grad(lambda x: max_pool(x, (2, 2)).sum()))(jnp.ones((1, 4, 4, 1)))
    )
    assert "select_and_scatter" not in jaxpr and "reduce_window" not in jaxpr


def test_max_pool_rejects_non_nhwc():
    with pytest.raises(ValueError, match="x has shape"):
        max_pool(jnp.ones((4, 4)), (2, 2))
