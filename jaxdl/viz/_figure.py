"""Figures that never touch pyplot's global state or the process-wide backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jaxdl._extras import missing_extra

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize: tuple[float, float],
    squeeze: bool = True,
    **subplots_kw: Any,
) -> tuple[Figure, Any]:
    """A new :class:`matplotlib.figure.Figure` and its grid of axes.

    The figure belongs to no pyplot window manager, so drawing needs no display, leaves
    pyplot's current figure alone and never switches the process-wide backend (no
    headless backend has to be selected first); it is freed like any Python object.

    Args:
        nrows, ncols: The grid of axes.
        figsize: Width and height in inches.
        squeeze: As :meth:`Figure.subplots`: one axes object instead of a 1x1 array, a
            1-D array for a single row or column.
        **subplots_kw: Passed to :meth:`Figure.subplots` (``gridspec_kw``, ``sharex`` ...).

    Returns:
        ``(fig, axes)``.

    Raises:
        ValueError: If ``nrows`` or ``ncols`` is below 1.
    """
    if nrows < 1 or ncols < 1:
        raise ValueError(f"nrows, ncols are {nrows}, {ncols}, expected at least 1 each.")
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise missing_extra("jaxdl.viz", "viz", e, "matplotlib") from e

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **subplots_kw)


def save_figure(
    fig: Figure,
    path: str | os.PathLike,
    *,
    dpi: float = 100,
    tight: bool = True,
    rect: tuple[float, float, float, float] | None = None,
) -> Path:
    """Lays out ``fig`` and writes it to ``path`` (format from the suffix, e.g. PNG).

    Args:
        fig: The figure, e.g. from :func:`figure`.
        path: The file to write; missing parent folders are created.
        dpi: Resolution in dots per inch.
        tight: Apply :meth:`Figure.tight_layout` first.
        rect: The tight layout's ``(left, bottom, right, top)`` box in figure coordinates,
            e.g. to leave room for a suptitle.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    if tight:
        fig.tight_layout(rect=rect)
    if "://" in os.fspath(path):  # a gs://-style workdir: matplotlib writes to a stream
        from etils import epath

        path = epath.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            fig.savefig(f, dpi=dpi, format=path.suffix.lstrip(".") or "png")
        return path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
