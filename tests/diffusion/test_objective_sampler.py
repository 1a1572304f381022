"""The diffusion training loss and evaluation, and the compiled class-conditional sampler."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.diffusion import (
    Sampler,
    diffusion_eval,
    diffusion_loss,
    grid_labels,
    make_schedule,
    q_sample,
    to_model_space,
    to_unit,
)
from jaxdl.losses import epsilon_loss
from jaxdl.training import TrainState, warmup_adam_ema


class Recorder(nnx.Module):
    """A denoiser that predicts zero noise and remembers the labels it was called with."""

    def __init__(self):
        self.seen = nnx.Variable(jnp.zeros((4,), jnp.int32))

    def __call__(self, x, t, labels, *, train=False, key=None):
        self.seen[...] = labels
        return jnp.zeros_like(x)


def batch():
    images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (4, 28, 28)), jnp.uint8)
    return {"image": images, "label": jnp.array([1, 2, 3, 4])}


def test_pixel_ranges():
    x = to_model_space(jnp.array([[[0, 255, 51]]], jnp.uint8))
    assert x.shape == (1, 1, 3, 1)
    np.testing.assert_allclose(x.ravel(), [-1.0, 1.0, 51 / 127.5 - 1])
    np.testing.assert_allclose(to_unit(x).ravel(), [0.0, 1.0, 0.2], rtol=1e-6)
    with pytest.raises(ValueError, match="images has shape"):
        to_model_space(jnp.zeros((2, 28, 28, 1), jnp.uint8))


def test_loss_of_a_zero_predictor_is_the_noise_power():
    schedule, model = make_schedule("linear", 10), Recorder()
    loss_fn = functools.partial(
        diffusion_loss, train=True, key=jax.random.key(0), schedule=schedule, null_label=10
    )
    loss, metrics = loss_fn(model, batch(), p_uncond=0.0)
    assert loss.shape == () and metrics["loss"] is loss
    _, k_noise, _, _ = jax.random.split(jax.random.key(0), 4)
    noise = jax.random.normal(k_noise, (4, 28, 28, 1))
    np.testing.assert_allclose(loss, epsilon_loss(jnp.zeros_like(noise), noise).mean(), rtol=1e-6)
    np.testing.assert_array_equal(model.seen[...], [1, 2, 3, 4])
    loss_fn(model, batch(), p_uncond=1.0)
    np.testing.assert_array_equal(model.seen[...], [10] * 4)  # every label dropped


def test_eval_is_a_fixed_draw_and_masks_padding():
    schedule, model = make_schedule("linear", 10), Recorder()
    key = jax.random.key(3)
    where = jnp.array([1.0, 1.0, 1.0, 0.0])
    a = diffusion_eval(model, batch(), where, schedule=schedule, key=key)["loss"]
    b = diffusion_eval(model, batch(), where, schedule=schedule, key=key)["loss"]
    assert float(a) == float(b)
    full = diffusion_eval(model, batch(), jnp.ones(4), schedule=schedule, key=key)["loss"]
    assert float(full) > float(a) > 0
    x0 = to_model_space(batch()["image"])
    k_t, k_noise = jax.random.split(key)
    t = jax.random.randint(k_t, (4,), 0, 10)
    noise = jax.random.normal(k_noise, x0.shape)
    assert q_sample(schedule, x0, t, noise).shape == x0.shape


class Constant(nnx.Module):
    """A "UNet" predicting a label-dependent constant noise, for a cheap sampler test."""

    def __init__(self):
        self.w = nnx.Param(jnp.linspace(-0.1, 0.1, 11))

    def __call__(self, x, t, labels, *, train=False, key=None):
        return jnp.broadcast_to(self.w[labels][:, None, None, None], x.shape)


def test_sampler_batches_and_compiles_once_per_setting():
    state = TrainState.create(
        Constant(), warmup_adam_ema(1e-3, num_steps=10), key=jax.random.key(0)
    )
    sampler = Sampler.from_state(
        state, make_schedule("linear", 8), image_shape=(4, 4, 1), null_label=10
    )
    labels = grid_labels(10, 1)[:5]
    sampler.prepare(5, num_steps=2, batch_size=2)
    assert len(sampler._compiled) == 2  # batches of 2, 2 and 1: two shapes
    x = sampler(labels, key=jax.random.key(1), num_steps=2, batch_size=2)
    assert x.shape == (5, 4, 4, 1) and np.all(np.abs(x) <= 1.0 + 1e-6)
    y = sampler(labels, key=jax.random.key(1), num_steps=2, batch_size=2)
    np.testing.assert_array_equal(x, y)
    assert len(sampler._compiled) == 2
    guided = sampler(labels[:2], key=jax.random.key(1), method="ddpm", guidance_scale=2.0)
    assert guided.shape == (2, 4, 4, 1)
    with pytest.raises(ValueError, match="method is 'plms'"):
        sampler(labels, key=jax.random.key(1), method="plms")


def test_grid_labels():
    assert grid_labels(3, 2).tolist() == [0, 1, 2, 0, 1, 2]


def test_warmup_adam_ema_keeps_the_average_last():
    tx = warmup_adam_ema(1e-3, num_steps=100, warmup_steps=10)
    state = tx.init({"w": jnp.zeros(3)})
    assert type(state[-1]).__name__ == "EmaState"
    with pytest.raises(ValueError, match="grad_clip is 0"):
        warmup_adam_ema(1e-3, num_steps=10, grad_clip=0)
