"""Generative models (seeds 001 and 003) on Fashion-MNIST: VAE, in-painting, VQ-VAE, GAN."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from jaxdl.data import load_fashion_mnist_split
from jaxdl.data.masks import random_patch_mask
from jaxdl.losses import (
    bernoulli_nll,
    gan_discriminator_loss,
    gan_generator_loss,
    gaussian_kl,
    masked_mse,
    vq_loss,
)
from jaxdl.nn.generative import (
    VAE,
    VQVAE,
    Discriminator,
    Generator,
    InpaintingAutoencoder,
    perplexity,
)
from jaxdl.training import (
    MetricsWriter,
    TrainState,
    clear_run,
    epoch_order,
    fit,
    take,
    write_summary,
)
from jaxdl.viz import save_grid
from train.cli_config import ConfigError

MODELS = ("vae", "inpaint", "vqvae", "gan")
EVAL_KEY = jax.random.key(1234)  # one fixed draw of latents and masks for every evaluation


def images(batch) -> jax.Array:
    """uint8 ``(B, 28, 28)`` -> float ``(B, 28, 28, 1)`` in [0, 1]."""
    return batch["image"].astype(jnp.float32)[..., None] / 255.0


# -- VAE ------------------------------------------------------------------------------


def vae_loss(model, batch, *, train, key, beta):
    x = images(batch)
    logits, mean, logvar = model(x, train=train, key=key)
    rec, kl = bernoulli_nll(logits, x), gaussian_kl(mean, logvar)
    loss = jnp.mean(rec + beta * kl)
    return loss, {"loss": loss, "kl": kl.mean()}


def vae_eval(model, batch, where):
    x = images(batch)
    logits, mean, logvar = model(x, key=jax.random.fold_in(EVAL_KEY, x.shape[0]))
    nelbo = bernoulli_nll(logits, x) + gaussian_kl(mean, logvar)
    return {"nelbo": jnp.sum(nelbo * where), "kl": jnp.sum(gaussian_kl(mean, logvar) * where)}


# -- in-painting ------------------------------------------------------------------------


def inpaint_loss(model, batch, *, train, key, patch_size):
    x = images(batch)
    mask = random_patch_mask(key, x.shape[0], size=patch_size)
    pred = jax.nn.sigmoid(model(x, mask, train=train))
    # The patch is what matters; the whole image keeps the decoder's output sane.
    loss = jnp.mean(masked_mse(pred, x, mask) + 0.1 * jnp.mean(jnp.square(pred - x), (1, 2, 3)))
    return loss, {"loss": loss}


def inpaint_eval(model, batch, where, *, mean_image, patch_size):
    x = images(batch)
    mask = random_patch_mask(EVAL_KEY, x.shape[0], size=patch_size)
    pred = jax.nn.sigmoid(model(x, mask))
    baseline = jnp.broadcast_to(mean_image, x.shape)
    return {
        "patch_mse": jnp.sum(masked_mse(pred, x, mask) * where),
        "mean_image_patch_mse": jnp.sum(masked_mse(baseline, x, mask) * where),
    }


# -- VQ-VAE -----------------------------------------------------------------------------


def vqvae_loss(model, batch, *, train, key, commitment, ema):
    del key
    x = images(batch)
    logits, z_e, z_q, codes = model(x, train=train)
    rec = bernoulli_nll(logits, x)
    loss = jnp.mean(rec + vq_loss(z_e, z_q, commitment=commitment, codebook=not ema) * 784)
    return loss, {"loss": loss, "perplexity": perplexity(codes, model.num_codes)}


def vqvae_eval(model, batch, where):
    x = images(batch)
    logits, _, _, _ = model(x)
    return {"recon_nll": jnp.sum(bernoulli_nll(logits, x) * where)}


@partial(jax.jit, static_argnums=0)
def code_counts(graphdef, state, test) -> jax.Array:
    """How often each code is chosen over the test set (one batched pass)."""
    model = nnx.merge(graphdef, state)
    _, _, _, codes = model(images(test))
    return jnp.bincount(codes.reshape(-1), length=model.num_codes)


def _build(config, key):
    rngs = nnx.Rngs(params=key)
    if config.model == "vae":
        model = VAE(config.latent_dim, rngs=rngs)
        return model, partial(vae_loss, beta=config.beta), vae_eval
    if config.model == "inpaint":
        model = InpaintingAutoencoder(config.bottleneck, rngs=rngs)
        return model, partial(inpaint_loss, patch_size=config.patch_size), None
    model = VQVAE(config.num_codes, config.code_dim, ema=config.ema_codebook, rngs=rngs)
    loss = partial(vqvae_loss, commitment=config.commitment, ema=config.ema_codebook)
    return model, loss, vqvae_eval


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    tic = time.perf_counter()
    if config.model not in MODELS:
        raise ConfigError(f"config.model is {config.model!r}, expected one of {', '.join(MODELS)}.")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = config.data_dir or None
    train = load_fashion_mnist_split("train", data_dir=data_dir, limit=config.train_examples)
    test = load_fashion_mnist_split("test", data_dir=data_dir, limit=config.test_examples)
    if config.model == "gan":
        metrics = _train_gan(config, workdir, train)
    else:
        metrics = _train_autoencoder(config, workdir, train, test)
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=time.perf_counter() - tic,
        recipe="generative",
    )
    return {"metrics": metrics, "wall_time_s": time.perf_counter() - tic}


def _train_autoencoder(config, workdir, train, test) -> dict[str, Any]:
    model_key, state_key, data_key = jax.random.split(jax.random.key(config.seed), 3)
    model, loss_fn, eval_fn = _build(config, model_key)
    if config.model == "inpaint":
        mean_image = images(train).mean(0)
        eval_fn = partial(inpaint_eval, mean_image=mean_image, patch_size=config.patch_size)
    state = TrainState.create(model, optax.adam(config.learning_rate), key=state_key)
    result = fit(
        state,
        train,
        test,
        loss_fn=loss_fn,
        eval_fn=eval_fn,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size,
        data_key=data_key,
        steps_per_dispatch=config.steps_per_dispatch,
        workdir=workdir,
        resume=config.resume,
        progress=config.progress,
    )
    model = result.state.model()
    x = images(take(test, jnp.arange(32)))
    metrics = {k: v for k, v in result.metrics.items() if k.startswith(("train_loss", "test_"))}
    if config.model == "vae":
        save_grid(model.sample(jax.random.key(config.seed), 64), workdir / "vae_samples.png")
        logits, _, _ = model(x)
        save_grid(np.concatenate([x, jax.nn.sigmoid(logits)]), workdir / "vae_reconstructions.png")
    elif config.model == "inpaint":
        mask = random_patch_mask(jax.random.key(config.seed), 32, size=config.patch_size)
        filled = x * (1 - mask) + jax.nn.sigmoid(model(x, mask)) * mask
        save_grid(np.concatenate([x, x * (1 - mask), filled]), workdir / "inpainting.png")
        metrics["patch_mse_vs_mean_image"] = (
            metrics["test_patch_mse"] / metrics["test_mean_image_patch_mse"]
        )
    else:
        counts = np.asarray(code_counts(*nnx.split(model), test))
        p = counts / counts.sum()
        metrics["test_perplexity"] = float(np.exp(-np.sum(p[p > 0] * np.log(p[p > 0]))))
        metrics["codes_used"] = int((counts > 0).sum())
        metrics["most_used_code_share"] = float(p.max())
        logits, _, _, _ = model(x)
        save_grid(
            np.concatenate([x, jax.nn.sigmoid(logits)]), workdir / "vqvae_reconstructions.png"
        )
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in metrics.items()}


# -- GAN ------------------------------------------------------------------------------


def _train_gan(config, workdir, train) -> dict[str, Any]:
    kg, kd, ks, ks2, data_key = jax.random.split(jax.random.key(config.seed), 5)
    tx = optax.adam(config.learning_rate, b1=0.5)
    g_state = TrainState.create(Generator(config.z_dim, rngs=nnx.Rngs(params=kg)), tx, key=ks)
    d_state = TrainState.create(Discriminator(rngs=nnx.Rngs(params=kd)), tx, key=ks2)
    n = int(train["label"].shape[0])

    def d_objective(d_params, d_state, real, fake):
        d = nnx.merge(d_state.graphdef, d_params, d_state.model_state, copy=True)
        return jnp.mean(gan_discriminator_loss(d(real), d(fake)))

    def g_objective(g_params, g_state, d_state, z):
        g = nnx.merge(g_state.graphdef, g_params, g_state.model_state, copy=True)
        fake = jax.nn.sigmoid(g(z, train=True))
        d = d_state.model()
        return jnp.mean(gan_generator_loss(d(fake))), nnx.state(g, nnx.Not(nnx.Param))

    @partial(jax.jit, donate_argnums=(0, 1))
    def epoch(g_state, d_state, order):
        def step(carry, idx):
            g_state, d_state = carry
            real = images(take(train, idx))
            k1, k2 = jax.random.split(g_state.step_key())
            z1 = jax.random.normal(k1, (idx.shape[0], config.z_dim))
            fake = jax.nn.sigmoid(g_state.model()(z1, train=True))
            d_loss, d_grads = jax.value_and_grad(d_objective)(
                d_state.params, d_state, real, jax.lax.stop_gradient(fake)
            )
            d_state = d_state.apply_gradients(d_grads, d_state.model_state)
            z2 = jax.random.normal(k2, (idx.shape[0], config.z_dim))
            (g_loss, g_model_state), g_grads = jax.value_and_grad(g_objective, has_aux=True)(
                g_state.params, g_state, d_state, z2
            )
            g_state = g_state.apply_gradients(g_grads, g_model_state)
            return (g_state, d_state), (d_loss, g_loss)

        (g_state, d_state), (d_losses, g_losses) = jax.lax.scan(step, (g_state, d_state), order)
        return g_state, d_state, d_losses.mean(), g_losses.mean()

    # The autoencoders' metrics.jsonl comes from `fit`; the GAN has its own loop, so it
    # writes the same per-epoch file, starting afresh as `fit` does (it does not resume).
    clear_run(workdir)
    writer = MetricsWriter(workdir)
    z = jax.random.normal(jax.random.key(config.seed), (64, config.z_dim))
    try:
        for e in tqdm(range(1, config.num_epochs + 1), disable=not config.progress, unit="epoch"):
            order = epoch_order(jax.random.fold_in(data_key, e), n, config.batch_size)
            g_state, d_state, d_loss, g_loss = epoch(g_state, d_state, order)
            last = {"train_d_loss": float(d_loss), "train_g_loss": float(g_loss)}
            writer.write({"epoch": e, "step": int(g_state.step), **last}, step=int(g_state.step))
            grid = jax.nn.sigmoid(g_state.model()(z))
            save_grid(grid, workdir / f"gan_samples_epoch{e:02d}.png")
    finally:
        writer.close()
    save_grid(grid, workdir / "gan_samples.png")
    return last
