"""Datasets as ArrayRecord files: one record per example, read back at random by grain.

A *records folder* holds ``records-SSSSS-of-NNNNN.array_record`` shards and
``features.json``, which names each field's dtype and per-example shape and the number of
examples. A record is the raw bytes of one example's fields one after the other, so a
batch of records decodes with a single ``np.frombuffer`` over a structured dtype
(:func:`decode`) instead of a Python loop over examples.

Folders are written whole or not at all: :func:`write_records` fills a temporary folder
and renames it into place, so a kill mid-write leaves no folder that looks finished, and
a second call (or a second process racing the first) finds the folder done and returns.

Needs the ``data`` extra (``pip install 'jaxdl[data]'``: grain and array_record).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxdl._extras import missing_extra

try:
    import grain
    from array_record.python.array_record_module import ArrayRecordWriter
except ImportError as e:
    raise missing_extra("jaxdl.data.records", "data", e, "grain") from e

FEATURES = "features.json"


def default_records_dir() -> Path:
    """Where recipes keep their records folders: ``$JAXDL_CACHE_DIR/records``, else
    ``$XDG_CACHE_HOME/jaxdl/records``, else ``~/.cache/jaxdl/records``."""
    root = os.environ.get("JAXDL_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(base, "jaxdl")
    return Path(root) / "records"


def example_dtype(arrays: Mapping[str, np.ndarray]) -> np.dtype:
    """The structured dtype of one example of ``arrays`` (fields in key order).

    Args:
      arrays: ``{name: (n, ...)}`` arrays of equal length ``n``.

    Returns:
      A packed structured dtype with one field per name, of the array's dtype and its
      per-example shape ``(...)``.

    Example:
      >>> example_dtype({"image": np.zeros((5, 2, 2), np.uint8), "label": np.zeros(5, np.int32)})
      dtype([('image', 'u1', (2, 2)), ('label', '<i4')])
    """
    return np.dtype([(k, v.dtype, v.shape[1:]) for k, v in arrays.items()])


def _dtype_from_json(fields: Sequence[Sequence[Any]]) -> np.dtype:
    return np.dtype([(name, np.dtype(dtype), tuple(shape)) for name, dtype, shape in fields])


def write_records(
    folder: str | os.PathLike, arrays: Mapping[str, np.ndarray], *, num_shards: int = 1
) -> Path:
    """Writes ``arrays`` to ``folder`` as ArrayRecord files, one record per example.

    Atomic and idempotent: the files are written into a temporary sibling folder that is
    then renamed to ``folder``; when ``folder`` already holds a finished dataset of the
    same fields and length, nothing is written.

    Args:
      folder: the records folder to create.
      arrays: ``{name: (n, ...)}`` arrays of equal length; record ``i`` holds row ``i``
        of each, in key order.
      num_shards: files to spread the records over (consecutive rows per file).

    Returns:
      ``folder`` as a :class:`~pathlib.Path`.

    Raises:
      ValueError: if the arrays differ in length or are empty, ``num_shards`` is not
        positive, or ``folder`` holds a different dataset.

    Example:
      >>> import tempfile
      >>> out = write_records(tempfile.mkdtemp() + "/d", {"x": np.arange(6).reshape(3, 2)})
      >>> read_records(out)["x"].tolist()
      [[0, 1], [2, 3], [4, 5]]
    """
    folder = Path(folder)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    sizes = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"arrays have leading dimensions {sizes}, expected all equal.")
    n = next(iter(sizes.values()))
    if not 0 < num_shards <= n:
        raise ValueError(f"num_shards is {num_shards}, expected 1 <= num_shards <= {n}.")
    dtype = example_dtype(arrays)
    meta = {
        "count": int(n),
        "fields": [[k, v.dtype.str, list(v.shape[1:])] for k, v in arrays.items()],
        "shards": [f"records-{i:05d}-of-{num_shards:05d}.array_record" for i in range(num_shards)],
    }
    if _finished(folder, meta):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        rows = np.empty(n, dtype)
        for k, v in arrays.items():
            rows[k] = v
        for name, part in zip(meta["shards"], np.array_split(rows, num_shards), strict=True):
            # group_size 1: each record is its own chunk, so a random read decodes one.
            writer = ArrayRecordWriter(str(tmp / name), "group_size:1")
            for row in part:
                writer.write(row.tobytes())
            writer.close()
        # features.json last: a folder with it is complete.
        (tmp / FEATURES).write_text(json.dumps(meta, indent=1))
        try:
            tmp.rename(folder)
        except OSError:  # another writer finished first
            if not _finished(folder, meta):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _finished(folder: Path, meta: Mapping[str, Any]) -> bool:
    """Whether ``folder`` holds a complete dataset equal in fields and length to ``meta``."""
    try:
        found = json.loads((folder / FEATURES).read_text())
    except FileNotFoundError:
        if folder.exists():
            msg = f"{folder} exists without {FEATURES}, expected a records folder."
            raise ValueError(msg) from None
        return False
    if (found["count"], found["fields"]) != (meta["count"], meta["fields"]):
        raise ValueError(
            f"{folder} holds {found['count']} records of {found['fields']}, expected "
            f"{meta['count']} of {meta['fields']}; delete it or choose another folder."
        )
    return True


class BatchedReads:
    """An ArrayRecord source whose ``_getitems`` reads many records in one call.

    grain's ``MapDataset.source(...)._getitems`` (and the ``shuffle``/slice datasets
    over it) push a batch of indices down to the source when it has ``_getitems``;
    array_record's batched ``__getitems__`` reads them in parallel in C++, some 20
    times faster than one ``__getitem__`` per record. grain's own
    ``ArrayRecordDataSource`` does not expose it, hence this thin wrapper.
    """

    def __init__(self, paths: Sequence[str]):
        self.source = grain.sources.ArrayRecordDataSource(list(paths))

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> bytes:
        return self.source[index]

    def _getitems(self, indices: Sequence[int]) -> Sequence[bytes]:
        return self.source.__getitems__(indices)


def open_records(folder: str | os.PathLike) -> tuple[BatchedReads, np.dtype]:
    """A random-access grain source over a records folder, and its example dtype.

    Args:
      folder: a folder written by :func:`write_records`.

    Returns:
      ``(source, dtype)``: ``source[i]`` is record ``i``'s bytes,
      ``source._getitems(indices)`` many records at once; :func:`decode` turns a
      sequence of them into arrays.

    Raises:
      FileNotFoundError: if ``folder`` holds no finished dataset.
    """
    folder = Path(folder)
    meta = json.loads((folder / FEATURES).read_text())
    source = BatchedReads([str(folder / s) for s in meta["shards"]])
    return source, _dtype_from_json(meta["fields"])


def decode(records: Sequence[bytes], dtype: np.dtype) -> dict[str, np.ndarray]:
    """Records of ``dtype`` as one array per field, stacked along a new leading axis.

    Args:
      records: ``b`` records' bytes (each ``dtype.itemsize`` long).
      dtype: the structured example dtype (:func:`open_records`).

    Returns:
      ``{name: (b, ...)}`` arrays, one per field of ``dtype``.

    Example:
      >>> dt = np.dtype([("x", "u1", (2,)), ("y", "<i4")])
      >>> decode([bytes([1, 2, 7, 0, 0, 0])], dt)["y"].tolist()
      [7]
    """
    rows = np.frombuffer(b"".join(records), dtype)
    return {name: np.ascontiguousarray(rows[name]) for name in dtype.names}


def read_records(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every record of a records folder, decoded: the inverse of :func:`write_records`."""
    source, dtype = open_records(folder)
    return decode(source._getitems(range(len(source))), dtype)


def fashion_mnist_records(
    split: str, folder: str | os.PathLike | None = None, *, data_dir: str | None = None
) -> Path:
    """Fashion-MNIST's ``split`` as a records folder, written from the IDX files on first
    use (``{"image": uint8 (28, 28), "label": int32}`` per record).

    Args:
      split: ``"train"`` or ``"test"``.
      folder: the records root; the split goes to ``folder/fashion_mnist/<split>``.
        ``None``: :func:`default_records_dir`.
      data_dir: where the IDX files are (see :func:`jaxdl.data.load_fashion_mnist`).

    Returns:
      The split's records folder.
    """
    from jaxdl.data.fashion_mnist import load_fashion_mnist

    root = Path(folder) if folder else default_records_dir()
    out = root / "fashion_mnist" / split
    if (out / FEATURES).exists():
        return out
    images, labels = load_fashion_mnist(split, data_dir=data_dir)
    arrays = {"image": np.asarray(images, np.uint8), "label": np.asarray(labels, np.int32)}
    return write_records(out, arrays)
