"""Pictures of image batches: a pixel-exact grid and a titled table."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from jaxdl._extras import missing_extra
from jaxdl.viz._figure import figure, save_figure


def _grey(image: ArrayLike, name: str) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 1)`` -> ``(H, W)``."""
    x = np.asarray(image)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(f"{name} has shape {x.shape}, expected (height, width[, 1]).")
    return x


def image_grid(images: ArrayLike, *, nrow: int = 8) -> np.ndarray:
    """Tiles ``(N, H, W[, 1])`` images into one ``(rows * H, nrow * W)`` array, row by row.

    Only whole rows are kept: the last ``N % nrow`` images are dropped.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, 1)`` grey images.
        nrow: Images per row of the grid.

    Returns:
        The tiled ``(N // nrow * H, nrow * W)`` array.

    Raises:
        ValueError: If ``images`` has another shape, or ``nrow`` is below 1.

    Example:
      >>> image_grid(np.zeros((5, 2, 3)), nrow=2).shape
      (4, 6)
    """
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"images has shape {x.shape}, expected (N, height, width[, 1]).")
    if nrow < 1:
        raise ValueError(f"nrow is {nrow}, expected at least 1.")
    n, h, w = x.shape
    n -= n % nrow
    return x[:n].reshape(-1, nrow, h, w).transpose(0, 2, 1, 3).reshape(-1, nrow * w)


def save_grid(
    images: ArrayLike,
    path: str | os.PathLike,
    nrow: int = 8,
    *,
    cmap: str = "gray_r",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Path:
    """Writes images as one PNG grid, one file pixel per image pixel (no axes, no margin).

    The pixels go straight to the file (:func:`matplotlib.image.imsave`); no figure,
    backend or pyplot state is involved.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, 1)`` grey images in ``[vmin, vmax]``.
        path: The PNG to write.
        nrow: Images per row; the last ``N % nrow`` images are dropped (see
            :func:`image_grid`).
        cmap, vmin, vmax: The colour map and the values at its ends (dark is high for
            the default ``"gray_r"``, as Fashion-MNIST's ink).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``images`` has another shape, or fewer than ``nrow`` images.
    """
    grid = image_grid(images, nrow=nrow)
    if grid.size == 0:
        raise ValueError(f"images has {np.shape(images)[0]} images, expected at least nrow={nrow}.")
    try:
        from matplotlib import image as mpl_image
    except ImportError as e:
        raise missing_extra("jaxdl.viz", "viz", e, "matplotlib") from e

    path = Path(path)
    mpl_image.imsave(path, grid, cmap=cmap, vmin=vmin, vmax=vmax)
    return path


def save_image_table(
    images: Sequence[Sequence[ArrayLike]],
    path: str | os.PathLike,
    *,
    titles: Sequence[Sequence[str]] | None = None,
    column_titles: Sequence[str] | None = None,
    title: str = "",
    cell_size: tuple[float, float] = (1.3, 1.35),
    extra_height: float = 0.0,
    own_scale_columns: Collection[int] = (),
    vmin: float = 0.0,
    vmax: float = 1.0,
    fontsize: float = 7,
    ticks: bool = False,
    dpi: float = 100,
) -> Path:
    """Draws a table of grey images, one axes per cell, and saves it.

    Args:
        images: ``rows x columns`` images, each ``(H, W)`` or ``(H, W, 1)``.
        path: The file to write (e.g. a PNG).
        titles: A title per cell (same nesting as ``images``), or ``None``.
        column_titles: A title above each column (on the first row), or ``None``.
        title: The figure's title.
        cell_size: Inches per cell, ``(width, height)``.
        extra_height: Inches added to the figure's height (room for ``title``).
        own_scale_columns: Columns whose colour scale spans their own values instead of
            ``[vmin, vmax]`` (e.g. standardised images).
        vmin, vmax: The ends of the ``"gray_r"`` colour scale.
        fontsize: Size of the cell and column titles.
        ticks: Keep the axes' frame (without tick marks) instead of hiding the axes.
        dpi: Resolution of the file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If the rows are empty or of different lengths, or ``titles`` or
            ``column_titles`` do not match them.
    """
    nrows = len(images)
    ncols = len(images[0]) if nrows else 0
    if not ncols or any(len(row) != ncols for row in images):
        lengths = [len(row) for row in images]
        raise ValueError(f"images has rows of lengths {lengths}, expected equal non-empty rows.")
    if titles is not None and [len(r) for r in titles] != [ncols] * nrows:
        raise ValueError(
            f"titles has rows {[len(r) for r in titles]}, expected {nrows} of {ncols}."
        )
    if column_titles is not None and len(column_titles) != ncols:
        raise ValueError(f"column_titles has {len(column_titles)} entries, expected {ncols}.")
    w, h = cell_size
    fig, axes = figure(nrows, ncols, figsize=(w * ncols, h * nrows + extra_height), squeeze=False)
    for c in range(ncols):
        own = c in own_scale_columns
        for r in range(nrows):
            ax = axes[r, c]
            ax.imshow(
                _grey(images[r][c], f"images[{r}][{c}]"),
                cmap="gray_r",
                vmin=None if own else vmin,
                vmax=None if own else vmax,
            )
            if titles is not None:
                ax.set_title(titles[r][c], fontsize=fontsize)
            if ticks:
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                ax.axis("off")
        if column_titles is not None:
            axes[0, c].set_title(column_titles[c], fontsize=fontsize)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=dpi)
