"""PNG plots of a neural-ODE fit: trajectories with extrapolation, phase portrait with field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxdl.viz import figure, save_figure


def trajectories(data: dict[str, np.ndarray], pred: np.ndarray, t1: float, path: Path) -> Path:
    """``u1(t)``, ``u2(t)`` true vs fitted; the shaded part is extrapolation beyond ``t1``."""
    fig, ax = figure(figsize=(9, 3.5))
    ts = data["ts_all"]
    for i, color in enumerate(("C0", "C1")):
        ax.plot(ts, data["ys_all"][:, i], color=color, lw=2, alpha=0.5, label=f"$u_{i + 1}$ true")
        ax.plot(ts, pred[:, i], color=color, ls="--", label=f"$u_{i + 1}$ neural ODE")
    if ts[-1] > t1:
        ax.axvspan(t1, ts[-1], color="0.9", label="extrapolation")
    ax.set_xlabel("$t$")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", ncol=3, fontsize=8)
    return save_figure(fig, path)


def phase_portrait(
    data: dict[str, np.ndarray], pred: np.ndarray, model: Any, path: Path, *, grid: int = 20
) -> Path:
    """True and fitted orbits in the ``(u1, u2)`` plane over the learned vector field."""
    ys = data["ys_all"]
    lo = np.minimum(ys.min(0), pred.min(0)) - 0.2
    hi = np.maximum(ys.max(0), pred.max(0)) + 0.2
    u1, u2 = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
    points = jnp.asarray(np.stack([u1, u2], -1), jnp.float32)
    field = np.asarray(model(0.0, points))
    fig, ax = figure(figsize=(5, 4.5))
    ax.streamplot(u1, u2, field[..., 0], field[..., 1], color="0.7", density=1.0, linewidth=0.7)
    ax.plot(ys[:, 0], ys[:, 1], lw=2, alpha=0.6, label="true")
    ax.plot(pred[:, 0], pred[:, 1], ls="--", label="neural ODE")
    ax.plot(*ys[0], "ko", ms=4, label="$u_0$")
    ax.set_xlabel("$u_1$ (prey)")
    ax.set_ylabel("$u_2$ (predator)")
    ax.set_title("phase portrait, learned vector field")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
