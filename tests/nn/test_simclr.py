"""SimCLRNet: its readouts and the batched representations."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn import SimCLRNet
from jaxdl.nn.simclr import representations


def small_net() -> SimCLRNet:
    return SimCLRNet((8, 8, 16), projection_hidden=32, projection_dim=16, rngs=nnx.Rngs(params=0))


def test_readouts():
    model = small_net()
    x = jax.random.normal(jax.random.key(1), (3, 28, 28, 1))
    maps = np.asarray(model.feature_maps(x))  # (3, 7, 7, 16)
    assert maps.shape == (3, 7, 7, 16)
    both = np.asarray(model.representation(x, readout="avg_max"))
    assert both.shape == (3, 2 * maps.shape[-1])
    np.testing.assert_allclose(both[:, : maps.shape[-1]], maps.mean((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(both[:, maps.shape[-1] :], maps.max((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(model.representation(x), model.features(x), rtol=1e-6)
    assert model(x).shape == (3, 16)
    with pytest.raises(ValueError, match="readout is 'sum'"):
        model.representation(x, readout="sum")


def test_representations_match_one_call_per_batch():
    model = small_net()
    x = jax.random.normal(jax.random.key(2), (6, 28, 28, 1))
    out = representations(model, x, readout="avg_max", batch_size=3)
    np.testing.assert_allclose(out, model.representation(x, readout="avg_max"), rtol=1e-5)
    with pytest.raises(ValueError, match="expected a multiple of batch_size=4"):
        representations(model, x, batch_size=4)
    with pytest.raises(ValueError, match="channels is empty"):
        SimCLRNet((), rngs=nnx.Rngs(0))
