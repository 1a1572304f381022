"""Curves of a training run: metric histories, smoothed losses, learning-rate sweeps."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from jaxdl.viz._figure import figure, save_figure

_told = False


def _have_matplotlib(path: str | os.PathLike) -> bool:
    """Whether matplotlib imports; if not, says once on stderr that curves are skipped
    (training needs no plots, so a run without matplotlib goes on)."""
    global _told
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if not _told:
            _told = True
            print(
                f"notice: matplotlib is not installed: no {Path(path).name} (curves are "
                "skipped); pip install matplotlib",
                file=sys.stderr,
            )
        return False
    return True


def plot_curves(
    history: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, x: str = "epoch"
) -> Path | None:
    """Draws every ``train_*``/``test_*`` metric against ``x``, one panel per metric name.

    Args:
        history: One record per evaluation, e.g. the lines of ``metrics.jsonl``:
            ``{"epoch": 3, "train_loss": 0.4, "test_loss": 0.5, ...}``. A record may lack
            some metrics; the ``x`` key must be in every record that has one.
        path: The PNG to write.
        x: The key plotted on the horizontal axis.

    Returns:
        The PNG's path, or ``None`` (nothing written) when there is nothing to plot or
        matplotlib is not installed (said once per process on stderr).
    """
    names = sorted(
        {
            k.split("_", 1)[1]
            for r in history
            for k in r
            if "_" in k and k.split("_", 1)[0] in ("train", "test")
        }
    )
    if not history or not names or not _have_matplotlib(path):
        return None
    fig, axes = figure(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for split in ("train", "test"):
            pts = [(r[x], r[f"{split}_{name}"]) for r in history if f"{split}_{name}" in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=split)
        ax.set_xlabel(x)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(fig, path)


def plot_losses(
    curves: Mapping[str, ArrayLike], path: str | os.PathLike, *, window: int = 1000
) -> Path:
    """log10 of per-step training losses, averaged over windows of ``window`` steps.

    Args:
        curves: Label -> losses ``(steps,)``, one line each (a legend when several).
        path: The PNG to write.
        window: Steps per plotted mean (fewer if a curve is shorter); the last partial
            window is dropped.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``window`` is below 1.
    """
    if window < 1:
        raise ValueError(f"window is {window}, expected at least 1 step.")
    fig, ax = figure(figsize=(6, 3.5))
    for label, losses in curves.items():
        losses = np.asarray(losses, np.float64)
        w = max(1, min(window, len(losses)))
        n = len(losses) // w * w
        means = np.log10(losses[:n].reshape(-1, w).mean(1))
        ax.plot(np.arange(len(means)) * w + w / 2, means, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(f"log10 training loss (mean of {window} steps)")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_lr_find(
    lrs: ArrayLike,
    losses: ArrayLike,
    smoothed: ArrayLike,
    suggested: float,
    path: str | os.PathLike,
) -> Path:
    """A learning-rate sweep: loss against rate (log axis), the suggested rate marked.

    Args:
        lrs: The rates tried, ``(steps,)``.
        losses: The training loss at each rate, ``(steps,)``.
        smoothed: The same losses smoothed, ``(steps,)``.
        suggested: The rate to mark with a dashed line.
        path: The PNG to write.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    losses, smoothed = np.asarray(losses), np.asarray(smoothed)
    fig, ax = figure(figsize=(6, 3.5))
    ax.plot(lrs, losses, alpha=0.3, label="loss")
    ax.plot(lrs, smoothed, label="smoothed")
    ax.axvline(suggested, color="k", ls="--", label=f"suggested {suggested:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_ylim(top=min(np.nanmax(smoothed) * 1.1, np.nanmax(losses)))
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_band(
    x: ArrayLike,
    ys: ArrayLike,
    path: str | os.PathLike,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    label: str = "mean of {n} runs",
) -> Path:
    """The mean of several runs' curves with their min-max band (e.g. returns over seeds).

    Args:
        x: The shared horizontal values, ``(T,)``.
        ys: One curve per run, ``(runs, T)``.
        path: The PNG to write.
        xlabel, ylabel, title: Axis labels and title.
        label: The mean's legend entry; ``{n}`` becomes the number of runs.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``ys`` is not ``(runs, T)`` with ``T`` the length of ``x``.
    """
    x, ys = np.asarray(x), np.asarray(ys)
    if ys.ndim != 2 or x.shape != ys.shape[1:]:
        raise ValueError(f"ys has shape {ys.shape}, expected (runs, {x.shape[0]}) for x {x.shape}.")
    fig, ax = figure(figsize=(6, 3.5))
    ax.plot(x, ys.mean(0), label=label.format(n=ys.shape[0]))
    ax.fill_between(x, ys.min(0), ys.max(0), alpha=0.25, label="min-max")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
