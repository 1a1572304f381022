"""Plots as PNG files, drawn on :class:`matplotlib.figure.Figure` objects.

Nothing here imports pyplot or switches matplotlib's global backend, so the functions are
safe in servers, threads and notebooks alike; matplotlib itself loads on first use.
Recipe-specific drawings build on :func:`figure` and :func:`save_figure`.
"""

from jaxdl.viz._figure import figure, save_figure
from jaxdl.viz.augment import save_augmentations
from jaxdl.viz.curves import plot_band, plot_curves, plot_losses, plot_lr_find
from jaxdl.viz.images import image_grid, save_grid, save_image_table
from jaxdl.viz.points import pca_2d, plot_embedding, scatter_classes

__all__ = [
    "figure",
    "image_grid",
    "pca_2d",
    "plot_band",
    "plot_curves",
    "plot_embedding",
    "plot_losses",
    "plot_lr_find",
    "save_augmentations",
    "save_figure",
    "save_grid",
    "save_image_table",
    "scatter_classes",
]
