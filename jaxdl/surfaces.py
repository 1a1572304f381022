"""2-D loss surfaces and optimiser trajectories on them, all in one compiled function.

The seed plots one optimiser at a time, stepping a PyTorch model in a Python loop. Here
every optimiser (any ``optax.GradientTransformation``) runs from every start on every
surface inside one ``jax.jit``: surfaces and optimisers are unrolled at trace time, starts
are vmapped and steps are a ``lax.scan``. There is no model and no data: a trajectory is
an optimiser's path over a closed-form function of two parameters, which is why it does
not go through the training engine (:func:`jaxdl.training.train`).

>>> paths = trajectories({"bowl": SURFACES["bowl"]}, {"sgd": optax.sgd(0.1)},
...                      default_starts(), num_steps=5)
>>> paths["bowl"]["sgd"].shape  # (starts, steps + 1, 2)
(3, 6, 2)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.viz import figure, save_figure

Surface = Callable[[jax.Array], jax.Array]  # (2,) -> scalar


def _bowl(p):  # an ill-conditioned quadratic: plain gradient descent zig-zags
    return 0.5 * (p[0] ** 2 + 10.0 * p[1] ** 2)


def _rosenbrock(p):  # a curved valley, minimum at (1, 1); scaled so lr 0.01 is stable
    return 0.01 * ((1 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2)


def _himmelblau(p):  # four minima
    return (p[0] ** 2 + p[1] - 11) ** 2 + (p[0] + p[1] ** 2 - 7) ** 2


def _saddle(p):  # a saddle at the origin, bounded below by the quartic
    return p[0] ** 2 - p[1] ** 2 + 0.25 * p[1] ** 4


SURFACES: dict[str, Surface] = {
    "bowl": _bowl,
    "rosenbrock": _rosenbrock,
    "himmelblau": _himmelblau,
    "saddle": _saddle,
}


def trajectories(
    surfaces: Mapping[str, Surface],
    optimizers: Mapping[str, optax.GradientTransformation],
    starts: jax.Array,
    *,
    num_steps: int,
) -> dict[str, dict[str, jax.Array]]:
    """Every optimiser's path from every start on every surface.

    One jitted call computes all of them (the names and functions are static).

    Args:
      surfaces: ``{name: f}`` with ``f`` mapping ``(2,)`` parameters to a scalar loss.
      optimizers: ``{name: optax transformation}``.
      starts: ``(num_starts, 2)`` starting points.
      num_steps: optimiser steps per path.

    Returns:
      ``{surface: {optimizer: (num_starts, num_steps + 1, 2)}}``: the parameters before
      each step and after the last.

    Raises:
      ValueError: if ``starts`` is not ``(num_starts, 2)``.
    """
    starts = jnp.asarray(starts, jnp.float32)
    if starts.ndim != 2 or starts.shape[1] != 2:
        raise ValueError(f"starts has shape {starts.shape}, expected (num_starts, 2).")

    @jax.jit
    def run(starts):
        out = {}
        for s_name, f in surfaces.items():
            out[s_name] = {}
            for o_name, tx in optimizers.items():

                def path(p0, f=f, tx=tx):
                    def step(carry, _):
                        p, state = carry
                        updates, state = tx.update(jax.grad(f)(p), state, p)
                        p = optax.apply_updates(p, updates)
                        return (p, state), p

                    _, ps = jax.lax.scan(step, (p0, tx.init(p0)), length=num_steps)
                    return jnp.concatenate([p0[None], ps])

                out[s_name][o_name] = jax.vmap(path)(starts)
        return out

    return run(starts)


def plot_trajectories(
    paths: Mapping[str, Mapping[str, jax.Array]],
    surfaces: Mapping[str, Surface],
    path: str | os.PathLike,
    *,
    extent: float = 4.0,
) -> str:
    """One panel per surface: log-scaled contours and every optimiser's paths.

    Draws on its own :class:`matplotlib.figure.Figure` (:mod:`jaxdl.viz`; the global
    backend is left alone).

    Args:
      paths: :func:`trajectories`' result.
      surfaces: the surfaces by name (for the contours).
      path: the PNG to write.
      extent: each panel shows ``[-extent, extent]^2``; paths are clipped to it.

    Returns:
      ``path`` as a string.
    """
    import matplotlib

    names = list(paths)
    fig, axes = figure(1, len(names), figsize=(4.2 * len(names), 4.2), squeeze=False)
    grid = np.linspace(-extent, extent, 200)
    xx, yy = np.meshgrid(grid, grid)
    pts = jnp.stack([xx.ravel(), yy.ravel()], -1)
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes[0], names, strict=True):
        z = np.asarray(jax.vmap(surfaces[name])(pts)).reshape(xx.shape)
        ax.contourf(xx, yy, np.log1p(z - z.min()), levels=30, cmap="viridis")
        for c, (opt, p) in zip(colors, paths[name].items(), strict=False):
            p = np.clip(np.asarray(p), -extent, extent)
            for i, traj in enumerate(p):
                ax.plot(traj[:, 0], traj[:, 1], color=c, lw=1.2, label=opt if i == 0 else None)
            ax.scatter(p[:, 0, 0], p[:, 0, 1], color="white", s=12, zorder=3)
        ax.set_title(name)
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
    axes[0][0].legend(fontsize=8, loc="lower left")
    return os.fspath(save_figure(fig, path, dpi=90))


def default_optimizers(learning_rate: float = 0.01) -> dict[str, optax.GradientTransformation]:
    """SGD, momentum, Nesterov, RMSprop, Adam and AdamW.

    Args:
      learning_rate: SGD's (and momentum's, Nesterov's); the adaptive optimisers take 10x,
        the scale at which each moves comparably on the surfaces here.

    Returns:
      ``{name: optax transformation}``.
    """
    lr = learning_rate
    return {
        "sgd": optax.sgd(lr),
        "momentum": optax.sgd(lr, momentum=0.9),
        "nesterov": optax.sgd(lr, momentum=0.9, nesterov=True),
        "rmsprop": optax.rmsprop(lr * 10),
        "adam": optax.adam(lr * 10),
        "adamw": optax.adamw(lr * 10, weight_decay=0.1),
    }


def default_starts(names: Sequence[str] = ("a", "b", "c")) -> np.ndarray:
    """A few fixed starting points away from the minima.

    Args:
      names: one name per start wanted (at most 3); only their number matters.

    Returns:
      ``(len(names), 2)`` float32 starts.
    """
    return np.array([[-3.0, 3.0], [3.5, -2.5], [-1.5, -3.5]][: len(names)], np.float32)
