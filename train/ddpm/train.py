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
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from jaxdl import parallel
from jaxdl.diffusion import (
    SCHEDULES,
    Schedule,
    classifier_free_guidance,
    ddim_sample,
    ddpm_sample,
    make_schedule,
    q_sample,
)
from jaxdl.losses import epsilon_loss
from jaxdl.nn.unet import UNet
from jaxdl.training import TrainState, ema_params, fit, track_ema
from train import _common
from train.cli_config import ConfigError
from train.fashion_mnist.train import load_split
from train.generative.train import save_grid

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
EVAL_KEY = jax.random.key(4321)  # one fixed draw of t and noise for every test loss


def to_model_space(images: jax.Array) -> jax.Array:
    """uint8 ``(B, 28, 28)`` -> float ``(B, 28, 28, 1)`` in [-1, 1], the diffusion's range."""
    return images.astype(jnp.float32)[..., None] / 127.5 - 1.0


def to_unit(x: jax.Array) -> jax.Array:
    """Samples in [-1, 1] -> [0, 1] for pictures."""
    return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)


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


def build_optimizer(config: ml_collections.ConfigDict, total_steps: int):
    """Adam with linear warm-up, gradient clipping, and the EMA of the weights last."""
    warmup = min(config.warmup_steps, max(total_steps - 1, 0))
    lr = (
        optax.warmup_constant_schedule(0.0, config.learning_rate, warmup)
        if warmup
        else (config.learning_rate)
    )
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adam(lr),
        track_ema(config.ema_decay),
    )


def build_state(config: ml_collections.ConfigDict, steps_per_epoch: int) -> TrainState:
    model_key, state_key = jax.random.split(jax.random.key(config.seed))
    model = build_model(config, key=model_key)
    tx = build_optimizer(config, config.num_epochs * steps_per_epoch)
    return TrainState.create(model, tx, key=state_key, loss_scale=_common.loss_scale(config))


def diffusion_loss(model, batch, *, train, key, schedule: Schedule, p_uncond: float):
    """Ho et al.'s simple loss on a batch, with label dropout for classifier-free guidance."""
    x0 = to_model_space(batch["image"])
    b = x0.shape[0]
    k_t, k_noise, k_drop, k_model = jax.random.split(key, 4)
    t = jax.random.randint(k_t, (b,), 0, schedule.num_timesteps)
    noise = jax.random.normal(k_noise, x0.shape)
    drop = jax.random.bernoulli(k_drop, p_uncond, (b,))
    labels = jnp.where(drop, NUM_CLASSES, batch["label"])
    eps = model(q_sample(schedule, x0, t, noise), t, labels, train=train, key=k_model)
    loss = epsilon_loss(eps, noise).mean()
    return loss, {"loss": loss}


def diffusion_eval(model, batch, where, *, schedule: Schedule):
    """Summed conditional noise-prediction loss on a fixed draw of ``t`` and noise."""
    x0 = to_model_space(batch["image"])
    k_t, k_noise = jax.random.split(EVAL_KEY)
    t = jax.random.randint(k_t, x0.shape[:1], 0, schedule.num_timesteps)
    noise = jax.random.normal(k_noise, x0.shape)
    eps = model(q_sample(schedule, x0, t, noise), t, batch["label"])
    return {"loss": jnp.sum(epsilon_loss(eps, noise) * where)}


class Sampler:
    """Draws class-conditional samples from a trained UNet; one compiled scan per setting.

    ``method`` is ``"ddpm"`` (all ``T`` ancestral steps) or ``"ddim"`` (``num_steps``
    strided steps, ``eta``). ``guidance_scale = 1`` is the plain conditional model (one
    network call per step); any other value mixes in the unconditional prediction
    (two calls per step, batched together). Executables are compiled ahead of time and
    cached, so :meth:`prepare` followed by a call times sampling without compilation.
    """

    def __init__(self, graphdef: nnx.GraphDef, params: nnx.State, rest: nnx.State, schedule):
        self.graphdef, self.params, self.rest, self.schedule = graphdef, params, rest, schedule
        self._compiled: dict[tuple, Any] = {}
        self._bar: tqdm | None = None

    @classmethod
    def from_state(cls, state: TrainState, schedule: Schedule, *, use_ema: bool = True):
        params = ema_params(state.opt_state) if use_ema else state.params
        return cls(state.graphdef, params, state.model_state, schedule)

    def _tick(self, i: jax.Array) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def _executable(self, spec: tuple) -> Any:
        if spec not in self._compiled:
            n = spec[-1]
            fn = jax.jit(functools.partial(self._sample, spec=spec))
            labels = jax.ShapeDtypeStruct((n,), jnp.int32)
            self._compiled[spec] = fn.lower(
                self.params, self.rest, labels, jax.random.key(0)
            ).compile()
        return self._compiled[spec]

    def _sample(self, params, rest, labels, key, *, spec):
        method, num_steps, w, eta, n = spec
        net = nnx.merge(self.graphdef, params, rest)
        if w == 1.0:
            eps_fn = lambda x, t: net(x, t, labels)  # noqa: E731
        else:
            eps_fn = classifier_free_guidance(net, labels, guidance_scale=w, null_label=NUM_CLASSES)
        kwargs = dict(key=key, shape=(n, *IMAGE_SHAPE), clip_sample=1.0, callback=self._tick)
        if method == "ddpm":
            return ddpm_sample(eps_fn, self.schedule, **kwargs)
        return ddim_sample(eps_fn, self.schedule, num_steps=num_steps, eta=eta, **kwargs)

    def num_calls(self, method: str, num_steps: int) -> int:
        """Network evaluations per sample (doubled by guidance, in one batched call)."""
        return self.schedule.num_timesteps if method == "ddpm" else num_steps

    def _specs(self, n, method, num_steps, guidance_scale, eta, batch_size):
        if method not in ("ddpm", "ddim"):
            raise ConfigError(f"method is {method!r}, expected 'ddpm' or 'ddim'.")
        sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
        return [(method, num_steps, float(guidance_scale), float(eta), m) for m in sizes]

    def prepare(self, n: int, **kwargs: Any) -> None:
        """Compiles what ``self(labels of length n, **kwargs)`` will run."""
        kwargs = {k: v for k, v in kwargs.items() if k not in ("key", "progress", "desc")}
        for spec in self._specs(n, **{**_SAMPLE_DEFAULTS, **kwargs}):
            self._executable(spec)

    def __call__(
        self,
        labels: np.ndarray,
        *,
        key: jax.Array,
        method: str = "ddim",
        num_steps: int = 50,
        guidance_scale: float = 1.0,
        eta: float = 0.0,
        batch_size: int = 500,
        progress: bool = False,
        desc: str | None = None,
    ) -> np.ndarray:
        """Samples for ``labels`` (``(N,)`` ints) in [-1, 1], ``(N, 28, 28, 1)``, in batches."""
        labels = np.asarray(labels, np.int32)
        specs = self._specs(len(labels), method, num_steps, guidance_scale, eta, batch_size)
        steps = self.num_calls(method, num_steps)
        out, start = [], 0
        with tqdm(
            total=steps * len(specs), desc=desc, unit="step", disable=not progress, leave=False
        ) as bar:
            self._bar = bar if progress else None
            try:
                for j, spec in enumerate(specs):
                    chunk = jnp.asarray(labels[start : start + spec[-1]])
                    start += spec[-1]
                    x = self._executable(spec)(
                        self.params, self.rest, chunk, jax.random.fold_in(key, j)
                    )
                    out.append(np.asarray(jax.block_until_ready(x)))
            finally:
                self._bar = None
        return np.concatenate(out)


_SAMPLE_DEFAULTS = dict(method="ddim", num_steps=50, guidance_scale=1.0, eta=0.0, batch_size=500)


def grid_labels(per_class: int = 8) -> np.ndarray:
    """Labels for a grid with one column per class: 0..9, 0..9, ..."""
    return np.tile(np.arange(NUM_CLASSES), per_class)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains, writes a sample grid per epoch and the final one, returns the summary."""
    mesh = _common.setup(config)
    if config.schedule not in SCHEDULES:
        raise ConfigError(f"config.schedule is {config.schedule!r}, expected one of {SCHEDULES}.")
    with _common.open_run(config, workdir, "ddpm") as run:
        if run.path("config.json") is not None:
            # Written first, so a run stopped early can still be sampled from and scored.
            run.path("config.json").write_text(json.dumps(config.to_dict(), indent=2, default=list))
        train, test = load_split(config, "train"), load_split(config, "test")
        n_train = int(train["label"].shape[0])
        if n_train < config.batch_size:
            raise ConfigError(
                f"config.batch_size is {config.batch_size}, expected at most the {n_train} "
                "training examples."
            )
        schedule = make_schedule(config.schedule, config.num_timesteps)
        state = build_state(config, n_train // config.batch_size)
        sample_key = jax.random.key(config.seed + 1)

        def draw_grid(epoch: int, state: TrainState) -> dict[str, float]:
            t0 = time.perf_counter()
            sampler = Sampler.from_state(state, schedule)
            x = sampler(
                grid_labels(config.grid_rows),
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
            loss_fn=functools.partial(diffusion_loss, schedule=schedule, p_uncond=config.p_uncond),
            eval_fn=functools.partial(diffusion_eval, schedule=schedule),
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
