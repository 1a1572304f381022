r"""In-painting with a trained denoiser: RePaint's resampling (Lugmayr et al. 2022).

The model is never trained for in-painting. Every reverse step denoises the whole
image, then the known pixels are overwritten by the known image noised to the new
timestep, so the network only ever sees images from its training distribution and the
unknown region is pulled towards agreement with the known one:

.. math::
    x^{\text{known}}_{t'} \sim q(x_{t'} \mid x_0) ,\qquad
    x^{\text{unknown}}_{t'} \sim p_\theta(x_{t'} \mid x_t) ,\qquad
    x_{t'} = (1 - m) \odot x^{\text{known}}_{t'} + m \odot x^{\text{unknown}}_{t'}

with ``m = 1`` on the pixels to fill (the convention of
:func:`jaxdl.data.masks.random_patch_mask` and the in-painting autoencoder). One pass
harmonises poorly, because the known region's fresh noise is independent of what the
model generated, so RePaint *resamples*: it re-noises :math:`x_{t'}` back to
:math:`x_t` with the forward process and denoises again, ``resample`` times per level,
``jump`` levels at a time. The order of the moves is :func:`repaint_schedule`, a NumPy
table fixed before tracing; the sampler is one ``lax.scan`` over it.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl.diffusion.sampling import EpsFn, _alpha_bar_prev, ddim_step, ddim_timesteps
from jaxdl.diffusion.schedule import Schedule, q_sample

__all__ = ["forward_jump", "inpaint_sample", "repaint_schedule"]


def repaint_schedule(
    num_steps: int, *, resample: int = 1, jump: int = 1
) -> Int[np.ndarray, "moves 2"]:
    """The levels RePaint visits, as ``(from, to)`` pairs of level indices.

    Level ``l`` in ``0 .. num_steps - 1`` is the ``l``-th strided timestep from the
    clean end; level ``-1`` is the clean image. Sampling starts at ``num_steps - 1``.
    A move ``to = from - 1`` is a reverse (denoising) step, ``to = from + 1`` a forward
    re-noising step. Descending, at every level ``l = 0, jump, 2 jump, ...`` with
    ``l + jump <= num_steps - 1``, the walk climbs back ``jump`` levels and descends
    again, ``resample - 1`` times, so each level below the top is denoised ``resample``
    times (the top ``jump`` levels of a run whose length is not a multiple of ``jump``,
    fewer). ``resample = 1`` is plain ancestral sampling. This is RePaint's
    ``get_schedule_jump`` written on levels rather than timesteps.

    Args:
        num_steps: Levels (strided timesteps) of the reverse process, ``>= 1``.
        resample: Denoisings per level (RePaint's ``r``), ``>= 1``.
        jump: Levels climbed back per resampling (RePaint's ``j``), ``>= 1``.

    Returns:
        ``(M, 2)`` int array of moves, ``M = num_steps + 2 (resample - 1) jump K`` with
        ``K`` the number of resampling levels; it ends at level ``-1``.

    Raises:
        ValueError: If an argument is below 1.

    Example:
      >>> repaint_schedule(3, resample=2, jump=1)[:, 1].tolist()  # the levels reached
      [1, 2, 1, 0, 1, 0, -1]
    """
    for name, value in (("num_steps", num_steps), ("resample", resample), ("jump", jump)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} is {value!r}, expected an integer >= 1.")
    left = {level: resample - 1 for level in range(0, num_steps - jump, jump)}
    moves, level = [], num_steps - 1
    while level >= 0:
        moves.append((level, level - 1))
        level -= 1
        if left.get(level, 0) > 0:
            left[level] -= 1
            for _ in range(jump):
                moves.append((level, level + 1))
                level += 1
    return np.asarray(moves, np.int32).reshape(-1, 2)


def forward_jump(
    schedule: Schedule, x: jax.Array, t_from: jax.Array, t_to: jax.Array, noise: jax.Array
) -> jax.Array:
    r"""Re-noises :math:`x_{t} \to x_{t''}`, ``t'' > t``, with the forward process:

    .. math::
        q(x_{t''} \mid x_t) = N\Big(\sqrt{\bar\alpha_{t''} / \bar\alpha_t}\; x_t,\;
            (1 - \bar\alpha_{t''} / \bar\alpha_t)\, I\Big)

    (the product of the one-step kernels in between), with :math:`\bar\alpha_{-1} = 1`:
    from ``t_from = -1`` it is :func:`~jaxdl.diffusion.q_sample`. ``t_from`` and
    ``t_to`` are scalars shared by the batch.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdl.diffusion import make_schedule
      >>> s = make_schedule()
      >>> x = forward_jump(s, jnp.ones(2), jnp.int32(-1), jnp.int32(999), jnp.zeros(2))
      >>> [round(v, 3) for v in x.tolist()]
      [0.006, 0.006]
    """
    ratio = schedule.alpha_bar[t_to] / _alpha_bar_prev(schedule, t_from)
    return jnp.sqrt(ratio) * x + jnp.sqrt(1.0 - ratio) * noise


def _check_inputs(schedule: Schedule, known: jax.Array, mask: jax.Array, num_steps: int) -> None:
    if known.ndim < 2:
        raise ValueError(
            f"known has shape {known.shape}, expected (batch, ...) images, e.g. (B, 28, 28, 1)."
        )
    try:
        np.broadcast_shapes(mask.shape, known.shape)
        ok = mask.ndim == known.ndim
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"mask has shape {mask.shape}, expected a shape of the same rank that broadcasts "
            f"to known's {known.shape} (1 on the pixels to fill)."
        )
    if not 1 <= num_steps <= schedule.num_timesteps:
        raise ValueError(
            f"num_steps is {num_steps}, expected 1 <= num_steps <= {schedule.num_timesteps} "
            "(the schedule's timesteps)."
        )


def inpaint_sample(
    eps_fn: EpsFn,
    schedule: Schedule,
    known: Float[ArrayLike, " batch *dims"],
    mask: Float[ArrayLike, " batch *dims"],
    *,
    key: jax.Array,
    num_steps: int,
    resample: int = 1,
    jump: int = 1,
    eta: float = 1.0,
    clip_sample: float | None = None,
    callback: Callable[[jax.Array], None] | None = None,
) -> Float[Array, " batch *dims"]:
    r"""Fills the pixels where ``mask = 1`` with samples of the diffusion model
    conditioned on the rest of ``known`` (RePaint, Lugmayr et al. 2022).

    The reverse process runs on ``num_steps`` strided timesteps (``"leading"`` spacing,
    :func:`~jaxdl.diffusion.ddim_timesteps`); each reverse move :math:`t \to t'` is a
    :func:`~jaxdl.diffusion.ddim_step` with ``eta`` (``eta = 1`` and ``num_steps = T``:
    the DDPM ancestral step, i.e. RePaint as published), followed by the blend

    .. math:: x_{t'} = (1 - m)\odot \big(\sqrt{\bar\alpha_{t'}}\,x_0
        + \sqrt{1 - \bar\alpha_{t'}}\,\epsilon\big) + m \odot x_{t'}

    with :math:`x_0` = ``known``; each forward move re-noises with
    :func:`forward_jump`. At the last move :math:`\bar\alpha_{-1} = 1`, so the known
    pixels of the result are ``known`` exactly. The moves are
    :func:`repaint_schedule`; the network is called once per reverse move
    (``num_steps`` times for ``resample = 1``, about ``resample * num_steps`` times
    otherwise). Pure and jittable; vmap over keys works too.

    Args:
        eps_fn: The denoiser ``eps_fn(x_t, t)``, ``t`` an int array ``(B,)``; for class
            guidance wrap the network with :func:`~jaxdl.diffusion.classifier_free_guidance`.
        schedule: The noise schedule the network was trained with.
        known: ``(B, ...)`` images in the model's range (e.g. ``[-1, 1]``); the values
            under the mask are ignored.
        mask: ``(B, ...)`` (or broadcastable, same rank), 1 on the pixels to fill, 0 on
            the known ones; fractional values blend.
        key: Randomness of the initial noise, each step's noise and the known region's.
        num_steps: Strided timesteps, ``1 .. T``.
        resample: Denoisings per level (RePaint's ``r``; 1: no resampling).
        jump: Levels re-noised at once before denoising again (RePaint's ``j``).
        eta: Noise of the reverse step (1: ancestral, 0: deterministic DDIM).
        clip_sample: Clip the predicted :math:`\hat x_0` to ``[-c, c]``.
        callback: ``callback(i)`` on the host after move ``i`` (e.g. a progress bar).

    Returns:
        ``(B, ...)`` in-painted images, equal to ``known`` where ``mask = 0``.

    Raises:
        ValueError: If ``known`` has no batch axis, ``mask`` does not broadcast to it, or
            ``num_steps``, ``resample`` or ``jump`` is out of range.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxdl.diffusion import make_schedule
      >>> known = jnp.ones((2, 4, 4, 1))
      >>> mask = jnp.zeros((2, 4, 4, 1)).at[:, 1:3, 1:3].set(1.0)
      >>> out = inpaint_sample(lambda x, t: jnp.zeros_like(x), make_schedule("linear", 100),
      ...                      known, mask, key=jax.random.key(0), num_steps=10, resample=2)
      >>> out.shape, bool((out[:, 0] == 1).all())  # the known border is kept exactly
      ((2, 4, 4, 1), True)
    """
    known, mask = jnp.asarray(known), jnp.asarray(mask, jnp.float32)
    _check_inputs(schedule, known, mask, num_steps)
    moves = repaint_schedule(num_steps, resample=resample, jump=jump)
    levels = np.append(ddim_timesteps(schedule.num_timesteps, num_steps)[::-1], -1)
    # Level -1 indexes the appended -1: the clean image.
    times = jnp.asarray(levels[moves], jnp.int32)  # (M, 2): timestep from, to
    batch = known.shape[0]
    init_key, key = jax.random.split(key)
    top = times[0, 0]
    x = jax.random.normal(init_key, known.shape)

    def blend(x, t, k):
        known_t = q_sample(schedule, known, jnp.full((batch,), jnp.maximum(t, 0)), k)
        known_t = jnp.where(t >= 0, known_t, known)  # the clean end: the image itself
        return (1.0 - mask) * known_t + mask * x

    # Start where the first reverse move starts: pure noise in the hole, the known
    # image noised to the top timestep around it.
    x = blend(x, top, jax.random.normal(jax.random.fold_in(init_key, 1), known.shape))

    def reverse(x, t, t_to, k):
        k_step, k_known = jax.random.split(k)
        eps = eps_fn(x, jnp.full((batch,), t, jnp.int32))
        noise = jax.random.normal(k_step, x.shape)
        x = ddim_step(schedule, x, t, t_to, eps, noise, eta=eta, clip_sample=clip_sample)
        return blend(x, t_to, jax.random.normal(k_known, x.shape))

    def forward(x, t, t_to, k):
        return forward_jump(schedule, x, t, t_to, jax.random.normal(k, x.shape))

    def body(x, move):
        i, (t, t_to) = move
        k = jax.random.fold_in(key, i)
        x = jax.lax.cond(t_to < t, reverse, forward, x, t, t_to, k)
        if callback is not None:
            jax.debug.callback(callback, i)
        return x, None

    x, _ = jax.lax.scan(body, x, (jnp.arange(times.shape[0]), (times[:, 0], times[:, 1])))
    return x
