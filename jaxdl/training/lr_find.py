"""A learning-rate finder: one short run whose step size grows exponentially.

Train from the initial state with a learning rate rising from ``lo`` to ``hi`` and watch
where the loss is lowest before the steps overshoot and it climbs again. Works for any
:class:`~jaxdl.training.TrainState` whose optimiser has an injected ``learning_rate``
(``optax.inject_hyperparams``), any loss function and any batch source.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.training.hyperparams import hyperparams, with_hyperparams
from jaxdl.training.sources import BatchSource
from jaxdl.training.state import TrainState
from jaxdl.training.step import LossFn, train_step


def exponential_lrs(num_steps: int, lo: float = 1e-3, hi: float = 1.0) -> np.ndarray:
    """``num_steps`` learning rates spaced evenly in log space from ``lo`` to ``hi``.

    Args:
      num_steps: how many rates, at least 2.
      lo: the first (smallest) rate, ``> 0``.
      hi: the last (largest) rate, ``> lo``.

    Returns:
      float64 rates, shape ``(num_steps,)``, from ``lo`` to ``hi`` inclusive.

    Raises:
      ValueError: ``num_steps < 2`` or not ``0 < lo < hi``.

    Example:
      >>> exponential_lrs(3, 0.01, 1.0).tolist()
      [0.01, 0.1, 1.0]
    """
    if num_steps < 2 or not 0 < lo < hi:
        raise ValueError(
            f"Got num_steps={num_steps}, lo={lo}, hi={hi}; expected num_steps >= 2 and 0 < lo < hi."
        )
    return np.logspace(np.log10(lo), np.log10(hi), num_steps)


def lr_find(
    state: TrainState, source: BatchSource, lrs: Sequence[float] | np.ndarray, *, loss_fn: LossFn
) -> jax.Array:
    """Training losses of one run whose step ``i`` uses learning rate ``lrs[i]``.

    The run starts from ``state`` (not modified) and takes the batches of the first
    ``len(lrs)`` steps of ``source``'s first epoch, as :func:`~jaxdl.training.train`
    would. The steps are unguarded: once the rate is too large the losses become NaN,
    which :func:`suggest_lr` ignores. Only the learning rate is set; switch other
    injected schedules off in ``state`` first (e.g. ``with_hyperparams(state,
    decay_factor=1.0)``) if they would act within the sweep.

    Args:
      state: the initial train state; its optimiser has an injected ``learning_rate``.
      source: a batch source with at least ``len(lrs)`` steps per epoch.
      lrs: the learning rate of every step, shape ``(num_steps,)``.
      loss_fn: ``loss_fn(model, batch, *, train, key) -> (loss, metrics)``.

    Returns:
      The per-step losses, shape ``(num_steps,)``.

    Raises:
      TypeError: the optimiser has no injected hyperparameters.
      ValueError: the optimiser has no ``learning_rate``, ``lrs`` is not 1-D, or the
        source's epoch is shorter than ``lrs``.
    """
    if "learning_rate" not in hyperparams(state):
        raise ValueError(
            f"state's optimiser injects {sorted(hyperparams(state))}, expected a learning_rate."
        )
    lrs = jnp.asarray(lrs, jnp.float32)
    if lrs.ndim != 1:
        raise ValueError(f"lrs has shape {lrs.shape}, expected (num_steps,).")
    num_steps = lrs.shape[0]
    if num_steps > source.steps_per_epoch:
        raise ValueError(
            f"lrs has {num_steps} steps, expected at most source.steps_per_epoch="
            f"{source.steps_per_epoch}."
        )

    @jax.jit
    def run(state, data, inputs, lrs):
        xs = source.scan_inputs(state, data, inputs, num_steps)

        def body(state, step):
            x, lr = step
            state = with_hyperparams(state, learning_rate=lr)
            state, metrics = train_step(state, source.batch(state, data, x), loss_fn=loss_fn)
            return state, metrics["loss"]

        return jax.lax.scan(body, state, (xs, lrs))[1]

    return run(state, source.data, source.inputs(1, 0, num_steps), lrs)


def smooth(losses: np.ndarray, window: int | None = None) -> np.ndarray:
    """Centred moving average of ``losses`` over ``window`` steps (default: 1/20 of them).

    Centred rather than exponential: an exponential average lags, which would move the
    minimum, and so the suggestion, towards larger learning rates.

    Args:
      losses: the losses, shape ``(num_steps,)``.
      window: the window length in steps; ``None`` (or 0) means ``max(1, num_steps // 20)``.

    Returns:
      float64 averages, shape ``(num_steps,)``; near the ends only the points under the
      window are averaged.

    Example:
      >>> smooth(np.array([0.0, 3.0, 0.0]), window=3).tolist()
      [1.5, 1.0, 1.5]
    """
    losses = np.asarray(losses, np.float64)
    window = window or max(1, len(losses) // 20)
    kernel = np.ones(window)
    # Divide by the number of points under the window, so the ends are not pulled down.
    total = np.convolve(losses, kernel, mode="same")
    return total / np.convolve(np.ones_like(losses), kernel, mode="same")


def suggest_lr(lrs: np.ndarray, losses: np.ndarray) -> float:
    """Half the learning rate at which the smoothed loss is lowest.

    Past the minimum the loss climbs as steps overshoot; at the minimum itself training
    is on the edge, so the suggestion backs off by a factor of 2. For the makemore MLP
    (block 3, n_embd 10, n_hidden 200, batch 32, N(0, 1) init, 1000 steps) the minimum
    sat at 0.17-0.19 over three seeds, so the suggestion was 0.085-0.095, next to the
    seed's hand-picked 0.1.

    Args:
      lrs: the learning rates of the sweep, shape ``(num_steps,)``.
      losses: the losses of :func:`lr_find` for ``lrs``, shape ``(num_steps,)``; they are
        smoothed with :func:`smooth`'s default window.

    Returns:
      ``lrs[i] / 2`` for the step ``i`` with the lowest finite smoothed loss.

    Raises:
      ValueError: every smoothed loss is infinite or NaN.

    Example:
      >>> suggest_lr(np.array([0.1, 0.2, 0.4]), np.array([2.0, 1.0, np.nan]))
      0.1
    """
    s = smooth(losses)
    finite = np.isfinite(s)
    if not finite.any():
        raise ValueError("Every loss of the learning-rate sweep is infinite or NaN.")
    i = int(np.nanargmin(np.where(finite, s, np.inf)))
    return float(lrs[i] / 2)
