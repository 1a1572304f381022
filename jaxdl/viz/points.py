"""Points in the plane: embeddings and representations, projected by PCA when wider."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from jaxdl.viz._figure import figure, save_figure


def pca_2d(points: ArrayLike) -> np.ndarray:
    """The first two principal components of ``(N, D)`` points, ``(N, 2)`` (centred).

    Args:
        points: ``(N, D)`` with ``D >= 2``.

    Returns:
        ``(N, 2)`` float64 coordinates.

    Raises:
        ValueError: If ``points`` is not ``(N, D)`` with ``D >= 2``.

    Example:
      >>> pca_2d(np.eye(3)).shape
      (3, 2)
    """
    x = np.asarray(points, np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"points has shape {x.shape}, expected (N, D) with D >= 2.")
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def plot_embedding(
    table: ArrayLike, labels: Sequence[str], path: str | os.PathLike, *, what: str = "embedding"
) -> Path:
    """Each row of an embedding table placed in the plane and marked with its label.

    A 2-D table is drawn as it is; a wider one by its first two principal components.

    Args:
        table: ``(V, D)`` embedding vectors, e.g. a character embedding.
        labels: ``V`` short labels (e.g. the characters) written on the points.
        path: The PNG to write.
        what: What the table embeds, for the title (e.g. ``"character embedding"``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``table`` is not ``(V, D)`` with ``D >= 2`` and ``V`` labels.
    """
    table = np.asarray(table, np.float64)
    if table.ndim != 2 or table.shape[1] < 2 or table.shape[0] != len(labels):
        raise ValueError(
            f"table has shape {table.shape}, expected ({len(labels)}, D >= 2) for the labels."
        )
    if table.shape[1] == 2:
        xy, title = table, f"{what} (dims 0, 1)"
    else:
        xy, title = pca_2d(table), f"{what} ({table.shape[1]}-D, PCA)"
    fig, ax = figure(figsize=(6, 6))
    ax.scatter(xy[:, 0], xy[:, 1], s=250)
    for label, (x, y) in zip(labels, xy, strict=True):
        ax.text(x, y, label, ha="center", va="center", color="white")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def scatter_classes(
    features: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "",
) -> Path:
    """Features projected on their first two principal components, coloured by class.

    Args:
        features: ``(N, D)`` representations, ``D >= 2``.
        labels: ``(N,)`` class indices into ``class_names``.
        class_names: The legend's names, one per class.
        path: The PNG to write.
        title: The axes' title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``labels`` is not ``(N,)`` for the ``N`` rows of ``features``.
    """
    xy = pca_2d(features)
    labels = np.asarray(labels)
    if labels.shape != (xy.shape[0],):
        raise ValueError(f"labels has shape {labels.shape}, expected ({xy.shape[0]},).")
    fig, ax = figure(figsize=(6, 5))
    for c, name in enumerate(class_names):
        m = labels == c
        ax.scatter(xy[m, 0], xy[m, 1], s=3, label=name)
    ax.legend(markerscale=4, fontsize=7)
    ax.set_title(title)
    return save_figure(fig, path)
