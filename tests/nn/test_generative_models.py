"""Generative modules: the vector quantiser, patch masks, shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.data.masks import random_patch_mask
from jaxdl.nn.generative import (
    VAE,
    Discriminator,
    Generator,
    InpaintingAutoencoder,
    VectorQuantizer,
    perplexity,
)


def test_quantiser_picks_the_nearest_code_and_passes_gradients_straight_through():
    vq = VectorQuantizer(4, 2, rngs=nnx.Rngs(0))
    vq.codebook[...] = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    z = jnp.array([[[0.9, 0.1], [0.1, 0.2], [4.0, 6.0]]])
    z_st, codes, z_q = vq(z)
    np.testing.assert_array_equal(codes, [[1, 0, 3]])
    np.testing.assert_allclose(z_st, z_q)
    grad = jax.grad(lambda z: jnp.sum(vq(z)[0] * jnp.arange(6.0).reshape(1, 3, 2)))(z)
    np.testing.assert_allclose(grad, jnp.arange(6.0).reshape(1, 3, 2))  # identity backward


def test_ema_codebook_moves_towards_its_vectors_only_in_training():
    vq = VectorQuantizer(2, 2, ema=True, decay=0.5, rngs=nnx.Rngs(0))
    before = np.asarray(vq.codebook[...]).copy()
    z = jnp.full((1, 8, 2), 3.0)
    vq(z)
    np.testing.assert_array_equal(vq.codebook[...], before)
    for _ in range(20):
        vq(z, train=True)
    used = int(vq(z)[1][0, 0])
    np.testing.assert_allclose(vq.codebook[...][used], [3.0, 3.0], rtol=1e-3)


def test_perplexity():
    assert float(perplexity(jnp.zeros(10, jnp.int32), 4)) == pytest.approx(1.0)
    assert float(perplexity(jnp.arange(8) % 4, 4)) == pytest.approx(4.0)


def test_patch_masks_are_keyed_and_near_the_centre():
    a = random_patch_mask(jax.random.key(0), 64)
    np.testing.assert_array_equal(a, random_patch_mask(jax.random.key(0), 64))
    assert not np.array_equal(a, random_patch_mask(jax.random.key(1), 64))
    assert (a.sum((1, 2, 3)) == 36).all()
    rows = np.nonzero(np.asarray(a).any(axis=(2, 3)))[1]
    assert rows.min() >= 7 and rows.max() <= 20  # corner 11 +- 4, patch of 6
    with pytest.raises(ValueError, match="size is 30"):
        random_patch_mask(jax.random.key(0), 1, size=30)


def test_models_shapes():
    # Shapes only: tracing (eval_shape) is enough and avoids running convolutions eagerly.
    x = jax.ShapeDtypeStruct((2, 28, 28, 1), jnp.float32)
    rngs = nnx.Rngs(0)
    vae, inpaint = VAE(4, rngs=rngs), InpaintingAutoencoder(rngs=rngs)
    gen, disc = Generator(8, rngs=rngs), Discriminator(rngs=rngs)
    shape = lambda f, *args: jax.eval_shape(f, *args).shape  # noqa: E731
    assert shape(lambda k: vae.sample(k, 3), jax.random.key(0)) == (3, 28, 28, 1)
    assert shape(lambda a: inpaint(a, jnp.ones_like(a)), x) == (2, 28, 28, 1)
    assert shape(gen, jax.ShapeDtypeStruct((2, 8), jnp.float32)) == (2, 28, 28, 1)
    assert shape(disc, x) == (2,)
    with pytest.raises(ValueError, match=r"x has shape \(2, 32, 32, 1\), expected \(batch, 28"):
        jax.eval_shape(vae, jax.ShapeDtypeStruct((2, 32, 32, 1), jnp.float32))
