r"""Reverse diffusion: DDPM ancestral sampling and DDIM, each one ``lax.scan``.

A *denoiser* is ``eps_fn(x_t, t) -> predicted noise`` with ``x_t`` of shape
``(B, ...)`` and ``t`` an int array ``(B,)``. The single steps match diffusers'
``DDPMScheduler.step`` (``variance_type="fixed_small"``) and ``DDIMScheduler.step``
(``timestep_spacing="leading"``, ``set_alpha_to_one=True``), which the tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxdl.diffusion.schedule import Schedule, _per_example, check_timesteps

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]


def predict_x0(schedule: Schedule, x_t: jax.Array, t: jax.Array, eps: jax.Array) -> jax.Array:
    r""":math:`\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,\hat\epsilon) / \sqrt{\bar\alpha_t}`."""
    ab = schedule.alpha_bar[t]
    return (x_t - jnp.sqrt(1 - ab) * eps) / jnp.sqrt(ab)


def _alpha_bar_prev(schedule: Schedule, t_prev: jax.Array) -> jax.Array:
    # Before the first step there is no noise: alpha_bar = 1 (diffusers' set_alpha_to_one).
    return jnp.where(t_prev >= 0, schedule.alpha_bar[jnp.maximum(t_prev, 0)], 1.0)


def ddpm_posterior(
    schedule: Schedule, x_t: jax.Array, t: jax.Array, x0: jax.Array
) -> tuple[jax.Array, jax.Array]:
    r"""Mean and variance of the forward process posterior
    :math:`q(x_{t-1} \mid x_t, x_0)` (Ho et al. 2020, eq. 6-7):

    .. math::
        \tilde\mu = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1 - \bar\alpha_t} x_0
            + \frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t,\qquad
        \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\beta_t

    with :math:`\bar\alpha_{-1} = 1`, as diffusers' ``DDPMScheduler.step`` computes them
    (``variance_type="fixed_small"``; the variance clamped at 1e-20, so it is 1e-20 at
    ``t = 0``). ``t`` is a scalar shared by the batch or one timestep per example
    ``(B,)``. Returns ``(mean, variance)``: the mean shaped like ``x_t``, the variance
    shaped like ``t`` (per example: ``(B, 1, ...)``, ready to broadcast).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdl.diffusion import make_schedule
      >>> mean, var = ddpm_posterior(make_schedule(), jnp.zeros(2), jnp.int32(0), jnp.ones(2))
      >>> mean.tolist(), bool(var <= 1e-20)  # at t = 0 the posterior is x_0 itself
      ([1.0, 1.0], True)
    """
    t = jnp.asarray(t)
    check_timesteps(t, schedule.num_timesteps)
    ab_t = schedule.alpha_bar[t]
    ab_prev = _alpha_bar_prev(schedule, t - 1)
    if t.ndim:  # one timestep per example: coefficients (B, 1, ...)
        ab_t, ab_prev = _per_example(ab_t, x_t), _per_example(ab_prev, x_t)
    alpha_t = ab_t / ab_prev
    beta_t = 1 - alpha_t
    mean = (jnp.sqrt(ab_prev) * beta_t * x0 + jnp.sqrt(alpha_t) * (1 - ab_prev) * x_t) / (1 - ab_t)
    var = jnp.maximum((1 - ab_prev) / (1 - ab_t) * beta_t, 1e-20)
    return mean, var


def ddpm_step(
    schedule: Schedule,
    x_t: jax.Array,
    t: jax.Array,
    eps: jax.Array,
    noise: jax.Array,
    *,
    clip_sample: float | None = None,
) -> jax.Array:
    r"""One ancestral step :math:`x_t \to x_{t-1}` with the posterior variance.

    .. math::
        \mu = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1 - \bar\alpha_t}\hat x_0
            + \frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t,\qquad
        \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\beta_t

    and :math:`x_{t-1} = \mu + \sqrt{\tilde\beta_t}\,z` (no noise at ``t = 0``): the
    posterior of :func:`ddpm_posterior` at the predicted :math:`\hat x_0`. ``t`` is a
    scalar shared by the batch. ``clip_sample`` clips :math:`\hat x_0` to
    ``[-clip_sample, clip_sample]``.
    """
    check_timesteps(jnp.asarray(t), schedule.num_timesteps)
    x0 = predict_x0(schedule, x_t, t, eps)
    if clip_sample is not None:
        x0 = jnp.clip(x0, -clip_sample, clip_sample)
    mean, var = ddpm_posterior(schedule, x_t, t, x0)
    return mean + jnp.where(t > 0, jnp.sqrt(var), 0.0) * noise


def ddim_timesteps(num_timesteps: int, num_steps: int) -> np.ndarray:
    """The ``num_steps`` timesteps DDIM visits, descending (``"leading"`` spacing).

    Example:
      >>> ddim_timesteps(1000, 4).tolist()
      [750, 500, 250, 0]
    """
    if not 1 <= num_steps <= num_timesteps:
        raise ValueError(
            f"num_steps is {num_steps}, expected 1 <= num_steps <= {num_timesteps} (the "
            "schedule's timesteps)."
        )
    return (np.arange(num_steps) * (num_timesteps // num_steps))[::-1].copy()


def ddim_step(
    schedule: Schedule,
    x_t: jax.Array,
    t: jax.Array,
    t_prev: jax.Array,
    eps: jax.Array,
    noise: jax.Array,
    *,
    eta: float = 0.0,
    clip_sample: float | None = None,
) -> jax.Array:
    r"""One DDIM step :math:`x_t \to x_{t'}` (Song et al. 2021, eq. 12), ``t' < t``.

    .. math::
        x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0
            + \sqrt{1 - \bar\alpha_{t'} - \sigma^2}\,\hat\epsilon + \sigma z,\qquad
        \sigma = \eta \sqrt{\frac{1 - \bar\alpha_{t'}}{1 - \bar\alpha_t}
            \Big(1 - \frac{\bar\alpha_t}{\bar\alpha_{t'}}\Big)}

    ``eta = 0`` is deterministic; ``eta = 1`` with ``t' = t - 1`` is DDPM. ``t_prev = -1``
    means the clean image (:math:`\bar\alpha = 1`).
    """
    check_timesteps(jnp.asarray(t), schedule.num_timesteps)
    _check_previous(t, t_prev)
    ab_t = schedule.alpha_bar[t]
    ab_prev = _alpha_bar_prev(schedule, t_prev)
    x0 = predict_x0(schedule, x_t, t, eps)
    if clip_sample is not None:
        x0 = jnp.clip(x0, -clip_sample, clip_sample)
        eps = (x_t - jnp.sqrt(ab_t) * x0) / jnp.sqrt(1 - ab_t)
    sigma = eta * jnp.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
    direction = jnp.sqrt(jnp.maximum(1 - ab_prev - sigma**2, 0.0)) * eps
    return jnp.sqrt(ab_prev) * x0 + direction + sigma * noise


def _check_previous(t: jax.Array, t_prev: jax.Array) -> None:
    """``ValueError`` unless concrete ``t_prev`` lies in ``[-1, t)``."""
    if isinstance(t, jax.core.Tracer) or isinstance(t_prev, jax.core.Tracer):
        return
    t, t_prev = np.asarray(t), np.asarray(t_prev)
    if np.any(t_prev < -1) or np.any(t_prev >= t):
        raise ValueError(
            f"t_prev is {t_prev.tolist()} for t = {t.tolist()}, expected -1 <= t_prev < t "
            "(DDIM steps go backwards in time)."
        )


def _run(
    eps_fn: EpsFn,
    step_fn: Callable[..., jax.Array],
    times: jax.Array,
    shape: Sequence[int],
    key: jax.Array,
    callback: Callable[[jax.Array], None] | None,
) -> jax.Array:
    init_key, key = jax.random.split(key)
    x = jax.random.normal(init_key, tuple(shape))

    def body(x, i_t):
        i, t, t_prev = i_t
        eps = eps_fn(x, jnp.full((x.shape[0],), t, jnp.int32))
        x = step_fn(x, t, t_prev, eps, jax.random.normal(jax.random.fold_in(key, i), x.shape))
        if callback is not None:
            jax.debug.callback(callback, i)
        return x, None

    t_prev = jnp.concatenate([times[1:], jnp.array([-1], times.dtype)])
    x, _ = jax.lax.scan(body, x, (jnp.arange(times.shape[0]), times, t_prev))
    return x


def ddpm_sample(
    eps_fn: EpsFn,
    schedule: Schedule,
    *,
    key: jax.Array,
    shape: Sequence[int],
    clip_sample: float | None = None,
    callback: Callable[[jax.Array], None] | None = None,
) -> Float[Array, " batch *dims"]:
    """Samples ``shape`` images with all ``T`` ancestral steps, one ``lax.scan``.

    ``callback(i)`` runs on the host after step ``i`` (e.g. a progress bar).
    """
    times = jnp.arange(schedule.num_timesteps - 1, -1, -1, dtype=jnp.int32)

    def step(x, t, t_prev, eps, z):
        del t_prev
        return ddpm_step(schedule, x, t, eps, z, clip_sample=clip_sample)

    return _run(eps_fn, step, times, shape, key, callback)


def ddim_sample(
    eps_fn: EpsFn,
    schedule: Schedule,
    *,
    key: jax.Array,
    shape: Sequence[int],
    num_steps: int,
    eta: float = 0.0,
    clip_sample: float | None = None,
    callback: Callable[[jax.Array], None] | None = None,
) -> Float[Array, " batch *dims"]:
    """Samples ``shape`` images with ``num_steps`` strided DDIM steps, one ``lax.scan``."""
    times = jnp.asarray(ddim_timesteps(schedule.num_timesteps, num_steps), jnp.int32)

    def step(x, t, t_prev, eps, z):
        return ddim_step(schedule, x, t, t_prev, eps, z, eta=eta, clip_sample=clip_sample)

    return _run(eps_fn, step, times, shape, key, callback)


def classifier_free_guidance(
    eps_fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array],
    labels: jax.Array,
    *,
    guidance_scale: float,
    null_label: int,
) -> EpsFn:
    r"""A denoiser for ``labels`` with classifier-free guidance (Ho & Salimans 2022).

    :math:`\hat\epsilon = \hat\epsilon(x, \varnothing) + w\,(\hat\epsilon(x, y) -
    \hat\epsilon(x, \varnothing))`; ``w = 1`` is the conditional model, ``w = 0`` the
    unconditional one. Both predictions come from one batched call.
    """

    def guided(x: jax.Array, t: jax.Array) -> jax.Array:
        both = eps_fn(
            jnp.concatenate([x, x]),
            jnp.concatenate([t, t]),
            jnp.concatenate([labels, jnp.full_like(labels, null_label)]),
        )
        cond, uncond = jnp.split(both, 2)
        return uncond + guidance_scale * (cond - uncond)

    return guided
