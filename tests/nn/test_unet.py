"""The diffusion UNet."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn.unet import UNet, timestep_embedding


@pytest.fixture(scope="module")
def net():
    return UNet(channels=(8, 16), num_classes=10, dropout=0.0, rngs=nnx.Rngs(0))


@pytest.mark.slow
def test_zero_initialised_output_and_conditioning(net):
    x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
    t = jnp.array([5, 500])
    # The output conv starts at zero, so an untrained net predicts zero noise...
    np.testing.assert_array_equal(net(x, t), 0.0)
    # ...and once the zero-initialised convs are not zero (the residual blocks start as
    # the identity, so time and class have no effect yet), it depends on t and the label.
    zero_init = [net.conv_out] + [b.conv2 for b in [*net.down, net.mid1, net.mid2, *net.up]]
    for i, conv in enumerate(zero_init):
        conv.kernel[...] = 0.1 * jax.random.normal(jax.random.key(i), conv.kernel.shape)
    a = net(x, t, jnp.array([1, 1]))
    assert not np.allclose(a, net(x, jnp.array([6, 501]), jnp.array([1, 1])))
    assert not np.allclose(a, net(x, t, jnp.array([2, 2])))
    np.testing.assert_allclose(net(x, t), net(x, t, jnp.array([10, 10])), rtol=1e-6)  # null


def test_timestep_embedding():
    e = timestep_embedding(jnp.array([0, 10]), 8)
    assert e.shape == (2, 8)
    np.testing.assert_allclose(e[0], [1, 1, 1, 1, 0, 0, 0, 0])


def test_bad_shapes(net):
    with pytest.raises(
        ValueError, match=r"x has shape \(2, 32, 32, 1\), expected \(batch, \(28, 28, 1\)\)"
    ):
        net(jnp.zeros((2, 32, 32, 1)), jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match=r"t has shape \(3,\), expected \(2,\)"):
        net(jnp.zeros((2, 28, 28, 1)), jnp.zeros((3,), jnp.int32))
    with pytest.raises(ValueError, match="divisible by 4"):
        UNet(image_shape=(30, 30, 1), channels=(8, 16, 32), rngs=nnx.Rngs(0))
