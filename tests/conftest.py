"""Shared fixtures: a tiny learnable Fashion-MNIST in IDX format, small models."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from jaxdl.data.idx import write_idx


def tiny_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images whose class is the row band that is bright, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c + 4 : 2 * c + 7, 4:24] = 230
    return images, labels


@pytest.fixture(scope="session")
def tiny_fmnist(tmp_path_factory) -> pathlib.Path:
    """A folder with the four Fashion-MNIST IDX files holding 256 train and 100 test images."""
    folder = tmp_path_factory.mktemp("fmnist")
    for prefix, n, seed in (("train", 256, 0), ("t10k", 100, 1)):
        images, labels = tiny_images(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder
