"""Class-conditional sampling from a trained denoiser, compiled once per setting."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jaxtyping import Int
from tqdm.auto import tqdm

from jaxdl.diffusion.sampling import classifier_free_guidance, ddim_sample, ddpm_sample
from jaxdl.diffusion.schedule import Schedule
from jaxdl.training import TrainState, ema_params

__all__ = ["SAMPLE_METHODS", "Sampler", "grid_labels"]

SAMPLE_METHODS = ("ddpm", "ddim")


def grid_labels(num_classes: int, per_class: int = 8) -> Int[np.ndarray, " n"]:
    """Labels ``0..C-1, 0..C-1, ...`` for a grid with one column per class.

    With :func:`jaxdl.viz.save_grid` at ``nrow=num_classes`` each column holds one class.

    Args:
        num_classes: ``C``, the columns.
        per_class: Rows: samples per class.

    Returns:
        ``(per_class * num_classes,)`` int array.

    Example:
      >>> grid_labels(3, 2).tolist()
      [0, 1, 2, 0, 1, 2]
    """
    return np.tile(np.arange(num_classes), per_class)


class Sampler:
    """Draws class-conditional samples from a trained denoiser; one compiled scan each.

    The denoiser is an NNX module ``net(x_t, t, labels)`` returning the predicted noise
    (e.g. :class:`jaxdl.nn.unet.UNet`), given as its split state. ``method`` is
    ``"ddpm"`` (all ``T`` ancestral steps) or ``"ddim"`` (``num_steps`` strided steps,
    ``eta``). ``guidance_scale = 1`` is the plain conditional model (one network call per
    step); any other value mixes in the unconditional prediction for ``null_label``
    (two calls per step, batched together). Executables are compiled ahead of time and
    cached, so :meth:`prepare` followed by a call times sampling without compilation.

    Args:
        graphdef, params, rest: The network split as ``nnx.split(net, nnx.Param, ...)``.
        schedule: The noise schedule it was trained with.
        image_shape: The shape of one sample, e.g. ``(28, 28, 1)``.
        null_label: The label of the unconditional model (the number of classes).
    """

    def __init__(
        self,
        graphdef: nnx.GraphDef,
        params: nnx.State,
        rest: nnx.State,
        schedule: Schedule,
        *,
        image_shape: Sequence[int],
        null_label: int,
    ):
        self.graphdef, self.params, self.rest, self.schedule = graphdef, params, rest, schedule
        self.image_shape, self.null_label = tuple(image_shape), int(null_label)
        self._compiled: dict[tuple, Any] = {}
        self._bar: tqdm | None = None

    @classmethod
    def from_state(
        cls,
        state: TrainState,
        schedule: Schedule,
        *,
        image_shape: Sequence[int],
        null_label: int,
        use_ema: bool = True,
    ) -> Sampler:
        """A sampler for a train state's network, by default with its EMA weights.

        Args:
            state: The train state (its optimiser tracks the EMA if ``use_ema``; see
                :func:`jaxdl.training.track_ema`).
            schedule, image_shape, null_label: As the constructor's.
            use_ema: Sample with the moving average of the weights, not the last ones.

        Returns:
            The sampler.
        """
        params = ema_params(state.opt_state) if use_ema else state.params
        return cls(
            state.graphdef,
            params,
            state.model_state,
            schedule,
            image_shape=image_shape,
            null_label=null_label,
        )

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
            eps_fn = classifier_free_guidance(
                net, labels, guidance_scale=w, null_label=self.null_label
            )
        kwargs = dict(key=key, shape=(n, *self.image_shape), clip_sample=1.0, callback=self._tick)
        if method == "ddpm":
            return ddpm_sample(eps_fn, self.schedule, **kwargs)
        return ddim_sample(eps_fn, self.schedule, num_steps=num_steps, eta=eta, **kwargs)

    def num_calls(self, method: str, num_steps: int) -> int:
        """Network evaluations per sample (doubled by guidance, in one batched call)."""
        return self.schedule.num_timesteps if method == "ddpm" else num_steps

    def _specs(self, n, method, num_steps, guidance_scale, eta, batch_size):
        if method not in SAMPLE_METHODS:
            raise ValueError(f"method is {method!r}, expected 'ddpm' or 'ddim'.")
        if batch_size < 1:
            raise ValueError(f"batch_size is {batch_size}, expected at least 1.")
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
        """Samples for ``labels`` in batches of at most ``batch_size``.

        Args:
            labels: ``(N,)`` class labels.
            key: Randomness; batch ``j`` uses ``fold_in(key, j)``.
            method: ``"ddim"`` or ``"ddpm"``.
            num_steps: DDIM's steps (DDPM takes all the schedule's).
            guidance_scale: Classifier-free guidance weight ``w``; 1 is none.
            eta: DDIM's noise (0: deterministic).
            batch_size: Samples per compiled call.
            progress: Show a progress bar over the steps.
            desc: The bar's label.

        Returns:
            ``(N, *image_shape)`` float32 samples in ``[-1, 1]``.

        Raises:
            ValueError: If ``method`` is unknown or ``batch_size`` below 1.
        """
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
