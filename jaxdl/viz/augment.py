"""A picture of what image augmentations do: one row per image, one column per augmentation."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import jax
import numpy as np

from jaxdl.data.augment import batch
from jaxdl.viz.images import save_image_table


def save_augmentations(
    images: jax.Array,
    augmentations: Mapping[str, Callable],
    path: str | os.PathLike,
    *,
    key: jax.Array,
    title: str = "",
    own_scale: Callable[[str], bool] = lambda name: name.startswith("normalize"),
) -> Path:
    """Draws each image, then each augmentation of it, and saves the table.

    Augmentation ``i`` runs on the whole batch with ``fold_in(key, i)`` (one key per image
    from there, :func:`jaxdl.data.augment.batch`), eagerly: for a handful of images,
    compiling each pipeline would cost more than it saves. One that returns a pair (e.g.
    :func:`jaxdl.data.augment.two_views`) fills two columns.

    Args:
        images: ``(n, H, W, 1)`` float images in ``[0, 1]``.
        augmentations: Column title -> ``(key, image) -> image`` (or a pair of images),
            e.g. :func:`jaxdl.data.augment.gallery`.
        path: The PNG to write.
        key: Randomness of the augmentations.
        title: The figure's title.
        own_scale: Which column titles get their own colour scale instead of ``[0, 1]``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``images`` is not ``(n, H, W, 1)``.
    """
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images has shape {images.shape}, expected (n, height, width, 1).")
    columns = [("original", images)]
    for i, (name, fn) in enumerate(augmentations.items()):
        out = batch(fn, jax.random.fold_in(key, i), images)
        if isinstance(out, tuple):
            columns += [(f"{name}\nview {j + 1}", v) for j, v in enumerate(out)]
        else:
            columns.append((name, out))
    n = images.shape[0]
    rows = [[np.asarray(col[r]) for _, col in columns] for r in range(n)]
    names = [name for name, _ in columns]
    return save_image_table(
        rows,
        path,
        column_titles=names,
        title=title,
        cell_size=(1.3, 1.35),
        extra_height=0.6,
        own_scale_columns={c for c, name in enumerate(names) if own_scale(name)},
        ticks=True,
    )
