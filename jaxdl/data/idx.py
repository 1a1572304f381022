"""Reader and writer for LeCun's IDX format (the MNIST / Fashion-MNIST file format).

An IDX file is a 4-byte magic number ``00 00 <type code> <ndim>``, then ``ndim`` big-endian
uint32 dimension sizes, then the row-major payload in big-endian order. Files may be
gzip-compressed; compression is detected from the gzip magic bytes, not the file name.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

from jaxdl.errors import JaxdlError

__all__ = ["IDXFormatError", "read_idx", "write_idx"]

# IDX type code -> big-endian numpy dtype.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_TO_CODE: dict[np.dtype, int] = {
    dtype.newbyteorder("="): code for code, dtype in _CODE_TO_DTYPE.items()
}
_GZIP_MAGIC = b"\x1f\x8b"
# The format allows up to 255 dims, but real datasets use 1-4; a larger count almost always
# means the file is not IDX at all, and saying so beats a confusing payload-length error.
MAX_NDIM = 4
_REINSTALL_HINT = (
    "re-download or reinstall it, e.g. `apt-get install --reinstall dataset-fashion-mnist`"
)


class IDXFormatError(JaxdlError, ValueError):
    """Raised when a file is not a well-formed IDX file (or a corrupt gzip of one)."""


def _fail(path: str, problem: str) -> IDXFormatError:
    return IDXFormatError(f"IDX file '{path}' {problem}; {_REINSTALL_HINT}.")


def _read_bytes(path: str) -> bytes:
    """Returns the file's (decompressed, if gzipped) contents."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise _fail(path, "is empty (0 bytes)")
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        data = gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise _fail(path, f"is a corrupt or truncated gzip stream ({type(e).__name__}: {e})") from e
    if not data:
        raise _fail(path, "is a gzip stream that decompresses to 0 bytes")
    return data


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file, gzipped or raw.

    Args:
        path: File to read. Gzip compression is detected from the leading bytes ``1f 8b``.

    Returns:
        A native-endian array whose shape is the header's dims and whose dtype is given by
        the type code (uint8, int8, int16, int32, float32 or float64).

    Raises:
        IDXFormatError: If the file is empty, is a corrupt gzip stream, has a bad magic
            number, type code or dimension count, a truncated dims header, or a payload that
            is shorter or longer than the dims imply.
        OSError: If the file cannot be opened.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise _fail(path, f"is only {len(data)} bytes long, shorter than the 4-byte IDX magic")
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        raise _fail(path, f"does not start with an IDX magic number (got 0x{data[:4].hex()})")
    if code not in _CODE_TO_DTYPE:
        raise _fail(
            path,
            f"has unknown IDX type code 0x{code:02x} "
            f"(expected one of {', '.join(f'0x{c:02x}' for c in _CODE_TO_DTYPE)})",
        )
    if not 1 <= ndim <= MAX_NDIM:
        raise _fail(path, f"declares {ndim} dimensions (expected 1 to {MAX_NDIM})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise _fail(
            path, f"ends inside its dims header after {len(data)} of {header_len} header bytes"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(shape) * dtype.itemsize
    got = len(data) - header_len
    if got < expected:
        raise _fail(path, f"ends after {got} of {expected} payload bytes for shape {shape}")
    if got > expected:
        raise _fail(
            path, f"has {got - expected} bytes beyond the {expected} payload bytes of shape {shape}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    # astype copies, so the result is writeable and no longer pins the decompressed buffer.
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes ``array`` as an IDX file, gzipped iff ``path`` ends in ``.gz``.

    Args:
        path: Destination file; overwritten if it exists.
        array: Array with 1 to ``MAX_NDIM`` dims and dtype uint8, int8, int16, int32,
            float32 or float64 (any byte order).

    Returns:
        None; the file holds the big-endian IDX header and payload (gzipped with mtime 0,
        so byte-identical across runs, when ``path`` ends in ``.gz``).

    Raises:
        ValueError: If the dtype, the number of dims or a dim size cannot be stored in IDX.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _DTYPE_TO_CODE:
        supported = ", ".join(str(d) for d in _DTYPE_TO_CODE)
        raise ValueError(f"array has dtype {array.dtype}; expected one of {supported}.")
    if not 1 <= array.ndim <= MAX_NDIM:
        raise ValueError(f"array has {array.ndim} dims; expected 1 to {MAX_NDIM}.")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array has shape {array.shape}; IDX dims must be below 2**32.")
    code = _DTYPE_TO_CODE[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    data = header + payload
    if path.endswith(".gz"):
        # mtime=0 keeps the output byte-identical across runs.
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
