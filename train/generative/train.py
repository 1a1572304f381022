"""Generative models (seeds 001 and 003) on Fashion-MNIST: VAE, autoencoder, in-painting,
VQ-VAE, GAN."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx, struct

from jaxdl import parallel
from jaxdl.data.fashion_mnist import CLASS_NAMES
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
    Autoencoder,
    Discriminator,
    Generator,
    InpaintingAutoencoder,
    perplexity,
)
from jaxdl.training import (
    HostFed,
    Permuted,
    Run,
    TrainState,
    fit,
    take,
    train,
)
from jaxdl.training.state import all_finite, select_update
from jaxdl.viz import save_grid, scatter_classes

from .. import _common
from ..cli_config import ConfigError

MODELS = ("vae", "autoencoder", "inpaint", "vqvae", "gan")
#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "the networks train in float32",
    "remat": "the networks have no checkpointed blocks",
    "processes": "the grids and code counts are computed on one host",
}
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


# -- plain autoencoder -------------------------------------------------------------------


def ae_loss(model, batch, *, train, key):
    del key
    x = images(batch)
    loss = jnp.mean(bernoulli_nll(model(x, train=train), x))
    return loss, {"loss": loss}


def ae_eval(model, batch, where):
    x = images(batch)
    return {"recon_nll": jnp.sum(bernoulli_nll(model(x), x) * where)}


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


def build_model(config: ml_collections.ConfigDict, *, key: jax.Array) -> nnx.Module:
    """The autoencoder-like model ``config.model`` names (the GAN trains two networks,
    so ``load_run`` cannot rebuild it from one)."""
    rngs = nnx.Rngs(params=key)
    if config.model == "vae":
        return VAE(config.latent_dim, rngs=rngs)
    if config.model == "autoencoder":
        return Autoencoder(config.latent_dim, rngs=rngs)
    if config.model == "inpaint":
        return InpaintingAutoencoder(config.bottleneck, rngs=rngs)
    if config.model == "vqvae":
        return VQVAE(config.num_codes, config.code_dim, ema=config.ema_codebook, rngs=rngs)
    raise ConfigError(
        f"config.model is {config.model!r}, expected one of vae, autoencoder, inpaint, vqvae."
    )


def _build(config, key):
    model = build_model(config, key=key)
    if config.model == "vae":
        return model, partial(vae_loss, beta=config.beta), vae_eval
    if config.model == "autoencoder":
        return model, ae_loss, ae_eval
    if config.model == "inpaint":
        return model, partial(inpaint_loss, patch_size=config.patch_size), None
    loss = partial(vqvae_loss, commitment=config.commitment, ema=config.ema_codebook)
    return model, loss, vqvae_eval


def _latent_figures(config, model, test, grid, run: Run) -> None:
    """What the latent space holds: decoded draws from N(0, I) (a VAE's samples, an
    autoencoder's chance) and the test latents' first two principal components."""
    name = config.model
    grid(
        model.sample(jax.random.key(config.seed), 64)
        if name == "vae"
        else jax.nn.sigmoid(
            model.decode(jax.random.normal(jax.random.key(config.seed), (64, config.latent_dim)))
        ),
        f"{name}_samples.png",
    )
    n = min(2000, int(test["label"].shape[0]))
    x = images(take(test, jnp.arange(n)))
    z = model.encode(x)[0] if name == "vae" else model.encode(x)  # the VAE's posterior mean
    if run.path(f"{name}_latents.png") is not None:
        scatter_classes(
            np.asarray(z),
            np.asarray(test["label"][:n]),
            CLASS_NAMES,
            run.path(f"{name}_latents.png"),
            title=f"{name} latents of {n} test images (PCA)",
        )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains the configured model, writes its grids, metrics and summary."""
    if config.model not in MODELS:
        raise ConfigError(f"config.model is {config.model!r}, expected one of {', '.join(MODELS)}.")
    _common.check_scale_support(config, UNSUPPORTED)
    if config.model == "gan" and config.accum_steps != 1:
        raise ConfigError(
            f"config.accum_steps is {config.accum_steps}, expected 1: the GAN's step updates "
            "two networks on one batch."
        )
    mesh = _common.setup(config)
    with _common.open_run(config, workdir, "generative") as run:
        train, test = _common.fashion_mnist_splits(config)
        if config.model == "gan":
            return run.finish(_train_gan(config, run, train, mesh))
        return run.finish(_train_autoencoder(config, run, train, test, mesh))


def _train_autoencoder(config, run: Run, train, test, mesh=None) -> dict[str, Any]:
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
        data_key=data_key,
        run=run,
        mesh=mesh,
        **_common.fit_options(config),
    )
    model = result.state.model()
    x = images(take(test, jnp.arange(32)))
    metrics = {k: v for k, v in result.metrics.items() if k.startswith(("train_loss", "test_"))}
    grid = lambda x, name: run.path(name) and save_grid(x, run.path(name))  # noqa: E731
    if config.model in ("vae", "autoencoder"):
        _latent_figures(config, model, test, grid, run)
        logits = model(x)[0] if config.model == "vae" else model(x)
        grid(np.concatenate([x, jax.nn.sigmoid(logits)]), f"{config.model}_reconstructions.png")
    elif config.model == "inpaint":
        mask = random_patch_mask(jax.random.key(config.seed), 32, size=config.patch_size)
        filled = x * (1 - mask) + jax.nn.sigmoid(model(x, mask)) * mask
        grid(np.concatenate([x, x * (1 - mask), filled]), "inpainting.png")
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
        grid(np.concatenate([x, jax.nn.sigmoid(logits)]), "vqvae_reconstructions.png")
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in metrics.items()}


# -- GAN ------------------------------------------------------------------------------


class GANState(struct.PyTreeNode):
    """The generator's and the discriminator's train states, trained as one.

    ``step`` (the generator's) counts the engine's steps; each step updates both.
    """

    g: TrainState
    d: TrainState

    @property
    def step(self) -> jax.Array:
        return self.g.step


def make_gan_step(z_dim: int):
    """One GAN step on a batch of real images: a discriminator update on real against
    generated images, then a generator update against the new discriminator (the
    non-saturating loss). Keys come from the generator's step key."""

    def d_objective(d_params, d_state, real, fake):
        d = nnx.merge(d_state.graphdef, d_params, d_state.model_state, copy=True)
        return jnp.mean(gan_discriminator_loss(d(real), d(fake)))

    def g_objective(g_params, g_state, d_state, z):
        g = nnx.merge(g_state.graphdef, g_params, g_state.model_state, copy=True)
        fake = jax.nn.sigmoid(g(z, train=True))
        d = d_state.model()
        return jnp.mean(gan_generator_loss(d(fake))), nnx.state(g, nnx.Not(nnx.Param))

    def step(state: GANState, batch, bad_step):
        g_state, d_state = state.g, state.d
        real = images(batch)
        k1, k2 = jax.random.split(g_state.step_key())
        z1 = jax.random.normal(k1, (real.shape[0], z_dim))
        fake = jax.nn.sigmoid(g_state.model()(z1, train=True))
        d_loss, d_grads = jax.value_and_grad(d_objective)(
            d_state.params, d_state, real, jax.lax.stop_gradient(fake)
        )
        d_new = d_state.apply_gradients(d_grads, d_state.model_state)
        z2 = jax.random.normal(k2, (real.shape[0], z_dim))
        (g_loss, g_model_state), g_grads = jax.value_and_grad(g_objective, has_aux=True)(
            g_state.params, g_state, d_new, z2
        )
        g_new = g_state.apply_gradients(g_grads, g_model_state)
        ok = (
            jnp.isfinite(d_loss)
            & jnp.isfinite(g_loss)
            & all_finite((d_new.params, g_new.params))
            & (bad_step < 0)
        )
        bad_step = jnp.where(ok | (bad_step >= 0), bad_step, g_state.step)
        new = GANState(g=select_update(ok, g_new, g_state), d=select_update(ok, d_new, d_state))
        return new, bad_step, {"d_loss": d_loss, "g_loss": g_loss}

    return step


def _train_gan(config, run: Run, images_train, mesh=None) -> dict[str, Any]:
    kg, kd, ks, ks2, data_key = jax.random.split(jax.random.key(config.seed), 5)
    tx = optax.adam(config.learning_rate, b1=0.5)
    state = GANState(
        g=TrainState.create(Generator(config.z_dim, rngs=nnx.Rngs(params=kg)), tx, key=ks),
        d=TrainState.create(Discriminator(rngs=nnx.Rngs(params=kd)), tx, key=ks2),
    )
    z = jax.random.normal(jax.random.key(config.seed), (64, config.z_dim))
    samples = jax.jit(lambda g: jax.nn.sigmoid(g.model()(z)))

    def draw(epoch: int, state: GANState) -> None:
        if run.path("gan_samples.png") is not None:
            grid = samples(state.g)
            save_grid(grid, run.path(f"gan_samples_epoch{epoch:02d}.png"))
            save_grid(grid, run.path("gan_samples.png"))

    if mesh is None:
        source = Permuted(images_train, config.batch_size, data_key)
    else:  # the same batches, split over the mesh's batch axes (fit's form)
        parallel.check_batch_size(config.batch_size, mesh)
        source = HostFed(images_train, config.batch_size, data_key, mesh)
    result = train(
        state,
        source,
        loss_fn=None,
        mesh=mesh,
        step_fn=make_gan_step(config.z_dim),
        num_epochs=config.num_epochs,
        run=run,
        hooks=[draw],
        progress=config.progress,
        desc="gan",
    )
    return {k: result.metrics[k] for k in ("train_d_loss", "train_g_loss")}
