"""Datasets and host-side input pipelines."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from jaxdl.data.batching import batches, num_batches
from jaxdl.data.idx import IDXFormatError, read_idx, write_idx

if TYPE_CHECKING:
    from jaxdl.data.fashion_mnist import (
        CLASS_NAMES,
        FASHION_MNIST_MEAN,
        FASHION_MNIST_STD,
        DataNotFoundError,
        load_fashion_mnist,
        load_fashion_mnist_split,
        normalize_fashion_mnist,
        resolve_data_dir,
        with_normalized_images,
    )

__all__ = [
    "CLASS_NAMES",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "DataNotFoundError",
    "IDXFormatError",
    "batches",
    "load_fashion_mnist",
    "load_fashion_mnist_split",
    "normalize_fashion_mnist",
    "num_batches",
    "read_idx",
    "resolve_data_dir",
    "with_normalized_images",
    "write_idx",
]

# Imported on first use: an eager import would make `python -m jaxdl.data.fashion_mnist`
# warn that the module was already in sys.modules before runpy executed it.
_LAZY = {
    "CLASS_NAMES",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "DataNotFoundError",
    "load_fashion_mnist",
    "load_fashion_mnist_split",
    "normalize_fashion_mnist",
    "resolve_data_dir",
    "with_normalized_images",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("jaxdl.data.fashion_mnist"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
