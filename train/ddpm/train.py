"""Denoising diffusion (DDPM) on Fashion-MNIST: a class-conditional UNet that predicts noise.

Training follows Ho et al. (2020): draw ``t`` uniformly, noise the image with
:func:`jaxdl.diffusion.q_sample` and regress the noise. Labels are replaced by the null
label with probability ``p_uncond``, so the same network also learns the unconditional
model that classifier-free guidance needs (Ho & Salimans 2022). An exponential moving
average of the weights (kept in the optimiser state, see :func:`jaxdl.training.track_ema`)
is what samples are drawn from. After every epoch a grid of guided DDIM samples, one
column per class, is written to ``workdir/samples_epochNN.png``.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import nnx

from jaxdl import parallel
from jaxdl.diffusion import (
    SCHEDULES,
    Sampler,
    Schedule,
    diffusion_eval,
    diffusion_loss,
    grid_labels,
    make_schedule,
    to_unit,
)
from jaxdl.nn.unet import UNet
from jaxdl.training import TrainState, fit, warmup_adam_ema
from jaxdl.viz import save_grid

from .. import _common
from ..cli_config import ConfigError

NUM_CLASSES = 10  # and the null label of the unconditional model
IMAGE_SHAPE = (28, 28, 1)
EVAL_KEY = jax.random.key(4321)  # one fixed draw of t and noise for every test loss


def build_model(config: ml_collections.ConfigDict, *, key: jax.Array) -> UNet:
    return UNet(
        IMAGE_SHAPE,
        channels=tuple(config.channels),
        attention=config.attention,
        num_classes=NUM_CLASSES,
        dropout=config.dropout,
        dtype=parallel.compute_dtype(config.get("precision", "float32")),
        remat=parallel.remat_policy(config.get("remat", "off")),
        rngs=nnx.Rngs(params=key),
    )


def build_state(config: ml_collections.ConfigDict, steps_per_epoch: int) -> TrainState:
    model_key, state_key = jax.random.split(jax.random.key(config.seed))
    model = build_model(config, key=model_key)
    tx = warmup_adam_ema(
        config.learning_rate,
        num_steps=config.num_epochs * steps_per_epoch,
        warmup_steps=config.warmup_steps,
        grad_clip=config.grad_clip,
        ema_decay=config.ema_decay,
    )
    return TrainState.create(model, tx, key=state_key, loss_scale=_common.loss_scale(config))


def build_sampler(state: TrainState, schedule: Schedule) -> Sampler:
    """A class-conditional sampler of ``state``'s EMA weights."""
    return Sampler.from_state(state, schedule, image_shape=IMAGE_SHAPE, null_label=NUM_CLASSES)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains, writes a sample grid per epoch and the final one, returns the summary."""
    mesh = _common.setup(config)
    if config.schedule not in SCHEDULES:
        raise ConfigError(f"config.schedule is {config.schedule!r}, expected one of {SCHEDULES}.")
    with _common.open_run(config, workdir, "ddpm") as run:
        if run.path("config.json") is not None:
            # Written first, so a run stopped early can still be sampled from and scored.
            run.path("config.json").write_text(json.dumps(config.to_dict(), indent=2, default=list))
        train, test = _common.fashion_mnist_splits(config)
        n_train = int(train["label"].shape[0])
        schedule = make_schedule(config.schedule, config.num_timesteps)
        state = build_state(config, n_train // config.batch_size)
        sample_key = jax.random.key(config.seed + 1)

        def draw_grid(epoch: int, state: TrainState) -> dict[str, float]:
            t0 = time.perf_counter()
            x = build_sampler(state, schedule)(
                grid_labels(NUM_CLASSES, config.grid_rows),
                key=sample_key,
                num_steps=config.grid_ddim_steps,
                guidance_scale=config.guidance_scale,
                progress=config.progress,
                desc=f"sampling (epoch {epoch})",
            )
            path = run.path(f"samples_epoch{epoch:02d}.png")
            if path is not None:
                save_grid(np.asarray(to_unit(x)), path, NUM_CLASSES)
            return {"grid_sampling_s": time.perf_counter() - t0}

        result = fit(
            state,
            train,
            test,
            loss_fn=functools.partial(
                diffusion_loss, schedule=schedule, p_uncond=config.p_uncond, null_label=NUM_CLASSES
            ),
            eval_fn=functools.partial(diffusion_eval, schedule=schedule, key=EVAL_KEY),
            data_key=jax.random.key(config.seed + 2),
            run=run,
            mesh=mesh,
            **_common.fit_options(config),
            hooks=[draw_grid],
        )
        final = run.path(f"samples_epoch{config.num_epochs:02d}.png")
        if final is not None and final.exists():
            run.path("samples.png").write_bytes(final.read_bytes())
        return run.finish(
            result.final,
            epochs=result.metrics.get("epoch", 0),
            steps=int(result.state.step),
            num_params=result.state.num_params,
        )
