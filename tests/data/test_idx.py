"""Tests for the IDX reader/writer."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from jaxdl.data.idx import IDXFormatError, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _sample(dtype: type, shape: tuple[int, ...] = (5, 3, 4)) -> np.ndarray:
    values = np.arange(np.prod(shape)).reshape(shape) - 7
    if np.dtype(dtype) == np.uint8:
        values = values + 7
    return (values * 1.5 if np.dtype(dtype).kind == "f" else values).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, dtype, suffix):
    array = _sample(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    assert out.flags.writeable
    np.testing.assert_array_equal(out, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 3, 4), (1, 2, 3, 2)])
def test_round_trip_ranks(tmp_path, shape):
    array = _sample(np.int16, shape)
    write_idx(tmp_path / "a", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


def test_header_is_big_endian_lecun_layout(tmp_path):
    write_idx(tmp_path / "a", np.array([[1, 258]], dtype=np.int16))
    assert (tmp_path / "a").read_bytes() == bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2]) + (
        b"\x00\x01\x01\x02"
    )


def test_gzip_detected_by_magic_not_suffix(tmp_path):
    array = _sample(np.uint8)
    write_idx(tmp_path / "a.gz", array)
    disguised = tmp_path / "plain-name"
    disguised.write_bytes((tmp_path / "a.gz").read_bytes())
    np.testing.assert_array_equal(read_idx(disguised), array)
    # And a raw file with a .gz name is still read as raw.
    write_idx(tmp_path / "raw", array)
    misnamed = tmp_path / "raw.gz"
    misnamed.write_bytes((tmp_path / "raw").read_bytes())
    np.testing.assert_array_equal(read_idx(misnamed), array)


def _raw(tmp_path, dtype=np.uint8, shape=(5, 28, 28)) -> bytes:
    write_idx(tmp_path / "src", np.zeros(shape, dtype=dtype))
    return (tmp_path / "src").read_bytes()


def _expect_error(path, *fragments: str) -> str:
    with pytest.raises(IDXFormatError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "re-download or reinstall" in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_error_is_value_error():
    assert issubclass(IDXFormatError, ValueError)


def test_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    _expect_error(tmp_path / "empty", "empty")


def test_wrong_magic(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    _expect_error(tmp_path / "bad", "magic", "01020801")


def test_too_short_for_magic(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00")
    _expect_error(tmp_path / "bad", "2 bytes")


def test_bad_type_code(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00")
    _expect_error(tmp_path / "bad", "type code 0x0a")


@pytest.mark.parametrize("ndim", [0, 5, 200])
def test_bad_ndim(tmp_path, ndim):
    (tmp_path / "bad").write_bytes(bytes([0, 0, 8, ndim]) + b"\x00" * 64)
    _expect_error(tmp_path / "bad", f"{ndim} dimensions")


def test_truncated_dims_header(tmp_path):
    (tmp_path / "bad").write_bytes(_raw(tmp_path)[:10])
    _expect_error(tmp_path / "bad", "dims header after 10 of 16")


def test_truncated_payload(tmp_path):
    data = _raw(tmp_path, np.int32, (5, 28, 28))
    (tmp_path / "bad").write_bytes(data[:-3])
    expected = 5 * 28 * 28 * 4
    _expect_error(tmp_path / "bad", f"ends after {expected - 3} of {expected} payload bytes")


def test_over_long_payload(tmp_path):
    (tmp_path / "bad").write_bytes(_raw(tmp_path) + b"\x00\x00")
    _expect_error(tmp_path / "bad", "2 bytes beyond")


def test_truncated_payload_inside_gzip(tmp_path):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(_raw(tmp_path)[:-1]))
    _expect_error(tmp_path / "bad.gz", f"ends after {5 * 28 * 28 - 1} of")


def test_truncated_gzip_stream(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(5000, dtype=np.int32))
    data = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "bad.gz").write_bytes(data[: len(data) // 2])
    _expect_error(tmp_path / "bad.gz", "gzip")


def test_corrupt_gzip_stream(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(5000, dtype=np.int32))
    data = bytearray((tmp_path / "a.gz").read_bytes())
    data[-8] ^= 0xFF  # Flip CRC bits so the stream decodes but fails its checksum.
    (tmp_path / "bad.gz").write_bytes(bytes(data))
    _expect_error(tmp_path / "bad.gz", "gzip")


def test_gzip_of_nothing(tmp_path):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b""))
    _expect_error(tmp_path / "bad.gz", "0 bytes")


def test_write_rejects_unsupported(tmp_path):
    with pytest.raises(ValueError, match="dtype int64"):
        write_idx(tmp_path / "a", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="0 dims"):
        write_idx(tmp_path / "a", np.uint8(3))
    assert not (tmp_path / "a").exists()
