"""Tests for the seeded minibatch iterator."""

from __future__ import annotations

from collections import namedtuple

import jax
import numpy as np
import pytest

from jaxdl.data.batching import batches, num_batches

N = 10


@pytest.fixture
def data():
    return {"x": np.arange(N * 2).reshape(N, 2), "y": np.arange(N) * 10}


def _order(data, key, batch_size=3, drop_remainder=False):
    return np.concatenate(
        [b["y"] // 10 for b in batches(data, batch_size, key=key, drop_remainder=drop_remainder)]
    )


def test_same_key_same_order(data):
    np.testing.assert_array_equal(_order(data, jax.random.key(0)), _order(data, jax.random.key(0)))


def test_different_key_different_order(data):
    assert not np.array_equal(_order(data, jax.random.key(0)), _order(data, jax.random.key(1)))


def test_order_is_the_jax_permutation(data):
    key = jax.random.key(3)
    np.testing.assert_array_equal(_order(data, key), np.asarray(jax.random.permutation(key, N)))


def test_every_example_once_per_epoch(data):
    order = _order(data, jax.random.key(5))
    assert order.shape == (N,)
    np.testing.assert_array_equal(np.sort(order), np.arange(N))
    assert not np.array_equal(order, np.arange(N))


def test_rows_stay_aligned(data):
    for batch in batches(data, 4, key=jax.random.key(2)):
        np.testing.assert_array_equal(batch["x"][:, 0], batch["y"] // 5)


@pytest.mark.parametrize(("drop", "sizes"), [(True, [3, 3, 3]), (False, [3, 3, 3, 1])])
def test_drop_remainder(data, drop, sizes):
    out = list(batches(data, 3, key=jax.random.key(0), drop_remainder=drop))
    assert [len(b["x"]) for b in out] == sizes
    assert [b["x"].shape[1:] for b in out] == [(2,)] * len(sizes)
    assert num_batches(N, 3, drop) == len(sizes)


def test_no_shuffle_is_index_order_and_needs_no_key(data):
    out = list(batches(data, 4, shuffle=False, drop_remainder=False))
    np.testing.assert_array_equal(np.concatenate([b["y"] for b in out]), data["y"])


def test_tuple_structure():
    x, y = np.arange(6), np.arange(6) + 100
    out = list(batches((x, y), 2, key=jax.random.key(0)))
    assert all(type(b) is tuple and len(b) == 2 for b in out)
    for bx, by in out:
        np.testing.assert_array_equal(by - bx, [100, 100])


def test_namedtuple_structure():
    pair = namedtuple("Pair", ["x", "y"])
    out = next(batches(pair(np.arange(4), np.arange(4)), 2, shuffle=False))
    assert isinstance(out, pair)
    np.testing.assert_array_equal(out.y, [0, 1])


def test_mismatched_leading_dims():
    with pytest.raises(ValueError, match="leading dim, got 'x': 10, 'y': 9"):
        batches({"x": np.zeros(10), "y": np.zeros(9)}, 2, key=jax.random.key(0))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_batch_size(data, bad):
    with pytest.raises(ValueError, match=f"batch_size must be a positive int, got {bad!r}"):
        batches(data, bad, key=jax.random.key(0))


def test_shuffle_requires_key(data):
    with pytest.raises(ValueError, match="key must be a PRNG key"):
        batches(data, 2)


def test_validation_is_eager():
    # No next() call: errors must surface when batches() is called.
    with pytest.raises(ValueError, match="at least one array"):
        batches({}, 2, shuffle=False)
    with pytest.raises(ValueError, match=r"arrays\[0\] must have a leading batch dim"):
        batches((np.float32(1.0),), 2, shuffle=False)
    with pytest.raises(TypeError, match="mapping or a tuple"):
        batches([np.zeros(3)], 2, shuffle=False)


def test_num_batches():
    assert num_batches(10, 3) == 3
    assert num_batches(10, 3, drop_remainder=False) == 4
    assert num_batches(9, 3, drop_remainder=False) == 3
    assert num_batches(0, 3, drop_remainder=False) == 0
    with pytest.raises(ValueError, match="n must be a non-negative int, got -1"):
        num_batches(-1, 3)
    with pytest.raises(ValueError, match="batch_size"):
        num_batches(10, 0)
