"""PNG figures of a character-level language model run."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from jaxdl.data.names import VOCAB


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def plot_losses(
    curves: Mapping[str, np.ndarray], path: str | os.PathLike, *, window: int = 1000
) -> str:
    """log10 of the training loss against the step, averaged over ``window`` steps."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
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
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)


def plot_lr_find(
    lrs: np.ndarray, losses: np.ndarray, smoothed: np.ndarray, suggested: float, path: str
) -> str:
    """Loss against learning rate (log axis), with the suggested rate marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(lrs, losses, alpha=0.3, label="loss")
    ax.plot(lrs, smoothed, label="smoothed")
    ax.axvline(suggested, color="k", ls="--", label=f"suggested {suggested:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_ylim(top=min(np.nanmax(smoothed) * 1.1, np.nanmax(losses)))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_embedding(table: np.ndarray, path: str | os.PathLike) -> str:
    """The characters placed by their embedding: dimensions 0 and 1 as in the seed when the
    embedding is 2-D, else its first two principal components."""
    plt = _pyplot()
    table = np.asarray(table, np.float64)
    if table.shape[1] == 2:
        xy, title = table, "character embedding (dims 0, 1)"
    else:
        centred = table - table.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        xy, title = centred @ vt[:2].T, f"character embedding ({table.shape[1]}-D, PCA)"
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(xy[:, 0], xy[:, 1], s=250)
    for i, (x, y) in enumerate(xy):
        ax.text(x, y, VOCAB[i], ha="center", va="center", color="white")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)
