"""Fashion-MNIST: a loader that finds the IDX files locally, falling back to TensorFlow
Datasets; the standardisation every Fashion-MNIST model here uses; splits as device arrays.

Run ``python -m jaxdl.data.fashion_mnist --check`` to see which folder would be used.
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxdl.data.idx import IDXFormatError, read_idx
from jaxdl.errors import JaxdlError

__all__ = [
    "CLASS_NAMES",
    "DEBIAN_DIR",
    "ENV_VAR",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "DataNotFoundError",
    "load_fashion_mnist",
    "load_fashion_mnist_split",
    "normalize_fashion_mnist",
    "resolve_data_dir",
    "with_normalized_images",
]

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# Mean and standard deviation of the training-set pixels scaled to [0, 1].
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530
# Read at call time (not import time), so tests can monkeypatch it.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
ENV_VAR = "JAXDL_DATA_DIR"
SPLITS = ("train", "test")
IMAGE_SHAPE = (28, 28)
_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_HOW_TO_GET = (
    "install it with `apt-get install dataset-fashion-mnist`, or set JAXDL_DATA_DIR to a folder "
    "holding the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz)"
)
_REINSTALL_HINT = (
    "re-download or reinstall it, e.g. `apt-get install --reinstall dataset-fashion-mnist`"
)


class DataNotFoundError(JaxdlError, FileNotFoundError):
    """Raised when Fashion-MNIST cannot be found in any of the places searched."""


def _sources(
    data_dir: str | os.PathLike | None,
) -> tuple[list[tuple[str, pathlib.Path]], list[str]]:
    """Returns the (label, folder) pairs to search, in order, and notes on skipped sources."""
    if data_dir is not None:
        # An explicit folder is a promise from the caller; falling through would hide typos.
        return [("data_dir argument", pathlib.Path(data_dir))], []
    sources: list[tuple[str, pathlib.Path]] = []
    skipped: list[str] = []
    env = os.environ.get(ENV_VAR, "")
    if env:
        env_dir = pathlib.Path(env)
        sources += [
            (f"${ENV_VAR}", env_dir),
            (f"${ENV_VAR}/fashion-mnist", env_dir / "fashion-mnist"),
        ]
    else:
        skipped.append(f"${ENV_VAR} (not set)")
    sources.append(("Debian package folder", pathlib.Path(DEBIAN_DIR)))
    return sources, skipped


def _locate(folder: pathlib.Path, stems: Sequence[str]) -> tuple[list[pathlib.Path] | None, str]:
    """Returns the files for ``stems`` in ``folder`` (raw preferred over .gz), or a reason."""
    if not folder.exists():
        return None, "does not exist"
    if not folder.is_dir():
        return None, "is not a directory"
    found: list[pathlib.Path] = []
    missing: list[str] = []
    for stem in stems:
        path = next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
        if path is None:
            missing.append(f"{stem}[.gz]")
        else:
            found.append(path)
    if missing:
        return None, f"lacks {', '.join(missing)}"
    return found, ""


def _resolve(
    data_dir: str | os.PathLike | None, stems: Sequence[str]
) -> tuple[pathlib.Path | None, list[pathlib.Path] | None, list[str]]:
    """Returns (folder, files, places tried) for the first folder holding all ``stems``."""
    sources, tried = _sources(data_dir)
    for label, folder in sources:
        files, reason = _locate(folder, stems)
        if files is not None:
            return folder, files, tried
        tried.append(f"{label} '{folder}' ({reason})")
    return None, None, tried


def _not_found(what: str, tried: Sequence[str]) -> DataNotFoundError:
    return DataNotFoundError(f"{what} not found; tried {'; '.join(tried)}; {_HOW_TO_GET}.")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> pathlib.Path | None:
    """Finds the folder holding all four Fashion-MNIST IDX files (raw or .gz).

    Searches ``data_dir`` alone if given; otherwise ``$JAXDL_DATA_DIR``, its ``fashion-mnist``
    subfolder, then ``DEBIAN_DIR``. Only checks that the files exist, not their contents.

    Args:
        data_dir: Explicit folder to check instead of the default search path.

    Returns:
        The first folder that has all four files, or None if there is none.
    """
    folder, _, _ = _resolve(data_dir, _STEMS["train"] + _STEMS["test"])
    return folder


def _load_from_tfds(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Loads a split through TensorFlow Datasets; raises whatever TFDS raises on failure."""
    # Imported lazily: TFDS is optional, slow to import, and needs TensorFlow to build data.
    import tensorflow_datasets as tfds

    images, labels = tfds.as_numpy(
        tfds.load("fashion_mnist", split=split, batch_size=-1, as_supervised=True)
    )
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:  # TFDS stores a channel axis.
        images = images[..., 0]
    return images, np.asarray(labels)


def _validate(images: np.ndarray, labels: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Checks shapes, dtypes and label range; returns (uint8 images, int32 labels)."""
    problem = None
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        problem = f"images have shape {images.shape}, expected (N, 28, 28)"
    elif images.dtype != np.uint8:
        problem = f"images have dtype {images.dtype}, expected uint8"
    elif labels.ndim != 1:
        problem = f"labels have shape {labels.shape}, expected (N,)"
    elif not np.issubdtype(labels.dtype, np.integer):
        problem = f"labels have dtype {labels.dtype}, expected an integer type"
    elif len(images) != len(labels):
        problem = f"there are {len(images)} images but {len(labels)} labels"
    elif labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        problem = f"labels span {labels.min()}..{labels.max()}, expected 0..{len(CLASS_NAMES) - 1}"
    if problem is not None:
        raise IDXFormatError(
            f"Fashion-MNIST data in {source} is invalid: {problem}; {_REINSTALL_HINT}."
        )
    return images, labels.astype(np.int32)


def load_fashion_mnist(
    split: str = "train", *, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Loads one Fashion-MNIST split into host memory.

    Sources, in order: ``data_dir`` (if given, the only one tried), ``$JAXDL_DATA_DIR`` and
    its ``fashion-mnist`` subfolder, ``DEBIAN_DIR``, then TensorFlow Datasets. A folder
    qualifies if it holds the split's two IDX files, raw or gzipped.

    Args:
        split: ``"train"`` (60000 examples) or ``"test"`` (10000 examples).
        data_dir: Folder holding the IDX files; disables the fallbacks.

    Returns:
        ``(images, labels)``: uint8 array of shape (N, 28, 28) and int32 array of shape (N,)
        with values in 0..9 indexing ``CLASS_NAMES``.

    Raises:
        ValueError: If ``split`` is not "train" or "test".
        DataNotFoundError: If no source has the split.
        IDXFormatError: If the files found are corrupt or hold inconsistent data.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    _, files, tried = _resolve(data_dir, _STEMS[split])
    if files is not None:
        images_path, labels_path = files
        source = f"'{images_path}' and '{labels_path}'"
        return _validate(read_idx(images_path), read_idx(labels_path), source)
    if data_dir is None:
        try:
            images, labels = _load_from_tfds(split)
        except Exception as e:  # TFDS fails in many ways (no TF, no network); all mean "absent".
            reason = (str(e).splitlines() or [""])[0][:200]
            tried.append(f"TensorFlow Datasets 'fashion_mnist' ({type(e).__name__}: {reason})")
        else:
            return _validate(images, labels, "TensorFlow Datasets 'fashion_mnist'")
    raise _not_found(f"Fashion-MNIST {split!r} split", tried)


def normalize_fashion_mnist(images: jax.Array) -> Float[Array, "batch 28 28 1"]:
    """Standardises uint8 pixels with the training-set statistics and adds a channel axis.

    Computes ``(images / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD`` in float32, the
    input every Fashion-MNIST classifier here is trained on.

    Args:
        images: ``(..., 28, 28)`` pixels in 0..255 (uint8, or any real dtype), e.g. a
            batch ``(B, 28, 28)``.

    Returns:
        ``(..., 28, 28, 1)`` float32 array.

    Raises:
        ValueError: If the last two axes of ``images`` are not ``(28, 28)``.

    Example:
      >>> x = normalize_fashion_mnist(np.zeros((2, 28, 28), np.uint8))
      >>> x.shape, round(float(x[0, 0, 0, 0]), 4)
      ((2, 28, 28, 1), -0.8102)
    """
    if images.ndim < 2 or tuple(images.shape[-2:]) != IMAGE_SHAPE:
        raise ValueError(f"images has shape {tuple(images.shape)}, expected (..., 28, 28).")
    scaled = jnp.asarray(images).astype(jnp.float32) / 255.0
    return ((scaled - FASHION_MNIST_MEAN) / FASHION_MNIST_STD)[..., None]


def with_normalized_images(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a loss or evaluation function so it sees standardised images.

    ``with_normalized_images(fn)(model, batch, *args, **kwargs)`` calls ``fn`` with
    ``batch["image"]`` replaced by :func:`normalize_fashion_mnist` of it: the device keeps
    the uint8 images (a quarter of the memory) and each step standardises its batch.

    Args:
        fn: ``fn(model, batch, *args, **kwargs)`` whose ``batch["image"]`` should be
            ``(B, 28, 28, 1)`` float32, e.g. :func:`jaxdl.training.classifier_loss`.

    Returns:
        The same function taking a batch whose ``"image"`` is uint8 ``(B, 28, 28)``.
    """

    @functools.wraps(fn)
    def wrapped(model: Any, batch: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return fn(
            model, {**batch, "image": normalize_fashion_mnist(batch["image"])}, *args, **kwargs
        )

    return wrapped


def load_fashion_mnist_split(
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int = 0,
    process_share: bool | None = None,
) -> dict[str, jax.Array]:
    """One split as device arrays, optionally cut to its first ``limit`` examples.

    In a multi-process run with ``process_share`` each process keeps only its share of
    the rows (:func:`jaxdl.parallel.process_share`), taken after the ``limit`` cut.

    Args:
        split: ``"train"`` or ``"test"``.
        data_dir: Folder holding the IDX files (see :func:`load_fashion_mnist`); ``None``
            searches the usual places.
        limit: Keep only the first ``limit`` examples; 0 keeps the whole split.
        process_share: Split the rows across processes; ``None`` does so for the training
            split only (every process evaluates on the whole test split).

    Returns:
        ``{"image": uint8 (N, 28, 28), "label": int32 (N,)}`` on the default device.

    Raises:
        ValueError: If ``split`` is unknown or ``limit`` is negative.
        DataNotFoundError: If no source has the split.
        IDXFormatError: If the files found are corrupt.
    """
    if limit < 0:
        raise ValueError(f"limit is {limit}, expected 0 (the whole split) or a positive count.")
    images, labels = load_fashion_mnist(split, data_dir=data_dir)
    if limit:
        images, labels = images[:limit], labels[:limit]
    if process_share is None:
        process_share = split == "train"
    if process_share and jax.process_count() > 1:
        from jaxdl.parallel.data import process_share as share_of

        share = share_of(len(labels))
        images, labels = images[share], labels[share]
    return {"image": jnp.asarray(images), "label": jnp.asarray(labels, jnp.int32)}


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code (0 found, 1 not found)."""
    parser = argparse.ArgumentParser(
        prog="python -m jaxdl.data.fashion_mnist", description="Locate the Fashion-MNIST files."
    )
    parser.add_argument(
        "--check", action="store_true", help="print the folder that would be used, or why none"
    )
    parser.add_argument("--data-dir", default=None, help="check only this folder")
    args = parser.parse_args(argv)
    if not args.check:
        parser.error("nothing to do; pass --check")
    folder, _, tried = _resolve(args.data_dir, _STEMS["train"] + _STEMS["test"])
    if folder is None:
        print(_not_found("Fashion-MNIST IDX files", tried), file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
