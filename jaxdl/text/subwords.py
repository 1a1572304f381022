"""fastText's subword units: a vocabulary, character n-grams hashed into buckets, and the
vector of any word (seen or not) as the mean of its rows.

A word ``w`` is wrapped in boundary markers, ``<w>``, and its character n-grams for ``n``
from ``minn`` to ``maxn`` are hashed (:func:`fasttext_hash`) into ``bucket`` rows that
follow the ``nwords`` word rows of the input matrix. The subwords of a word are its own
id (when it is in the vocabulary) followed by the ids ``nwords + hash(g) % bucket`` of
its n-grams ``g``, in fastText's order and with its repeats, so that

.. math::  v(w) = \\frac{1}{|S(w)|} \\sum_{s \\in S(w)} W_{\\mathrm{in}}[s]

equals fastText's ``get_word_vector`` for the same input matrix (Bojanowski et al. 2017,
"Enriching Word Vectors with Subword Information"; ``Dictionary::computeSubwords``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cached_property

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

__all__ = [
    "EOS",
    "SubwordVocab",
    "build_vocab",
    "char_ngrams",
    "fasttext_hash",
    "word_vectors",
]

#: fastText's end-of-line token: every line ends with it, and it has no n-grams.
EOS = "</s>"


def fasttext_hash(ngram: str | bytes) -> int:
    """fastText's 32-bit FNV-1a hash of the UTF-8 bytes of ``ngram``.

    Unlike textbook FNV-1a, each byte goes through ``int8_t`` before the xor (fastText's
    ``Dictionary::hash``), so a byte >= 0x80 is sign-extended to 32 bits: non-ASCII
    n-grams hash differently from the reference FNV-1a, and this reproduces fastText.

    .. math::  h_0 = 2166136261,\\quad
               h_{i+1} = (h_i \\oplus \\mathrm{int8}(b_i)) \\cdot 16777619 \\bmod 2^{32}

    Example:
      >>> fasttext_hash("<th")
      1619151151
    """
    data = ngram.encode("utf-8") if isinstance(ngram, str) else ngram
    h = 2166136261
    for b in data:
        h ^= b | 0xFFFFFF00 if b >= 0x80 else b  # uint32_t(int8_t(b))
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, *, minn: int, maxn: int) -> list[str]:
    """The character n-grams of ``<word>`` with ``minn <= n <= maxn``, in fastText's order
    (by start, then by length), counting characters (UTF-8 code points), not bytes.

    As in fastText, an n-gram of one character is left out when it is a boundary marker;
    the whole ``<word>`` is one of them when it is at most ``maxn`` characters long.

    Example:
      >>> char_ngrams("where", minn=3, maxn=4)
      ['<wh', '<whe', 'whe', 'wher', 'her', 'here', 'ere', 'ere>', 're>']
    """
    _check_range(minn, maxn)
    chars = f"<{word}>"
    out = []
    for i in range(len(chars)):
        for n in range(max(minn, 1), maxn + 1):
            if i + n > len(chars):
                break
            if n == 1 and (i == 0 or i + 1 == len(chars)):
                continue
            out.append(chars[i : i + n])
    return out


def _check_range(minn: int, maxn: int) -> None:
    if not 0 <= minn <= maxn:
        raise ValueError(
            f"minn and maxn must satisfy 0 <= minn <= maxn; got minn={minn}, maxn={maxn}."
        )


@dataclasses.dataclass(frozen=True)
class SubwordVocab:
    """Words with their counts (most frequent first) and the subword settings.

    Attributes:
      words: the vocabulary; ``words[i]`` has row ``i`` of the input matrix.
      counts: how often each word occurs in the corpus (for subsampling and negatives).
      minn: shortest character n-gram.
      maxn: longest character n-gram; 0: no n-grams (plain skip-gram).
      bucket: rows shared by all n-grams (hashed), after the ``nwords`` word rows.
      ntokens: tokens read from the corpus, rare words included (fastText's
        ``ntokens``, the denominator of the subsampling frequencies); 0: ``sum(counts)``.
    """

    words: tuple[str, ...]
    counts: tuple[int, ...]
    minn: int = 3
    maxn: int = 6
    bucket: int = 2_000_000
    ntokens: int = 0

    def __post_init__(self) -> None:
        _check_range(self.minn, self.maxn)
        if len(self.words) != len(self.counts):
            raise ValueError(
                f"counts must have one entry per word; got {len(self.counts)} counts for "
                f"{len(self.words)} words, expected {len(self.words)}."
            )
        if self.maxn > 0 and self.bucket < 1:
            raise ValueError(f"bucket must be >= 1 when maxn > 0; got bucket={self.bucket}.")

    @property
    def nwords(self) -> int:
        return len(self.words)

    @property
    def num_rows(self) -> int:
        """Rows of the input matrix: the words, then the n-gram buckets."""
        return self.nwords + (self.bucket if self.maxn > 0 else 0)

    @cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def subwords(self, word: str) -> tuple[list[str], list[int]]:
        """The subword strings and row ids of ``word``, as fastText's ``get_subwords``:
        the word itself when it is in the vocabulary, then its hashed n-grams."""
        strings, ids = [], []
        if (i := self.index.get(word, -1)) >= 0:
            strings.append(word)
            ids.append(i)
        if word != EOS and self.maxn > 0:
            for g in char_ngrams(word, minn=self.minn, maxn=self.maxn):
                strings.append(g)
                ids.append(self.nwords + fasttext_hash(g) % self.bucket)
        return strings, ids

    def table(self, words: Sequence[str] | None = None) -> Int[np.ndarray, "n max_subwords"]:
        """``(len(words), S)`` subword ids of ``words`` (default: the vocabulary), padded on
        the right with ``num_rows`` (one past the last row, so a gather with
        ``mode="fill"`` reads zeros there and a scatter with ``mode="drop"`` skips it)."""
        rows = [self.subwords(w)[1] for w in (self.words if words is None else words)]
        table = np.full((len(rows), max(map(len, rows), default=1)), self.num_rows, np.int32)
        for r, ids in enumerate(rows):
            table[r, : len(ids)] = ids
        return table

    def vectors(
        self, words: Sequence[str], input_matrix: Float[ArrayLike, "rows dim"]
    ) -> Float[Array, "n dim"]:
        """The vectors of ``words`` (in the vocabulary or not) from their subwords: fastText's
        ``get_word_vector``. A word with no subword at all gets zeros, as in fastText."""
        if np.shape(input_matrix)[0] != self.num_rows:
            raise ValueError(
                f"input_matrix must have num_rows={self.num_rows} rows (nwords + bucket); "
                f"got shape {np.shape(input_matrix)}."
            )
        return word_vectors(jnp.asarray(input_matrix), jnp.asarray(self.table(words)))


def word_vectors(
    input_matrix: Float[Array, "rows dim"], table: Int[Array, "n max_subwords"]
) -> Float[Array, "n dim"]:
    """Mean of the rows of ``input_matrix`` named by each row of ``table``; ids past the last
    row are padding. Repeated ids count as often as they occur, as in fastText."""
    rows = input_matrix.shape[0]
    summed = jnp.take(input_matrix, table, axis=0, mode="fill", fill_value=0).sum(1)
    count = (table < rows).sum(1, keepdims=True)
    return summed / jnp.maximum(count, 1).astype(summed.dtype)


def build_vocab(
    lines: Iterable[str],
    *,
    min_count: int = 5,
    minn: int = 3,
    maxn: int = 6,
    bucket: int = 2_000_000,
) -> SubwordVocab:
    """The words of ``lines`` (split on whitespace, each line ending in :data:`EOS`) seen at
    least ``min_count`` times, most frequent first; ties keep the order of first
    appearance (fastText's ``std::sort`` leaves ties in no defined order).

    Raises:
      ValueError: when no word reaches ``min_count`` (an empty corpus, say).
    """
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(line.split())
        counts[EOS] += 1
    kept = [(w, c) for w, c in counts.items() if c >= min_count]
    if not kept or kept == [(EOS, counts[EOS])]:
        got = sum(c for w, c in counts.items() if w != EOS)
        raise ValueError(
            f"lines must hold words seen at least min_count={min_count} times; got a corpus "
            f"of {got} words with none that frequent, expected a non-empty text."
        )
    kept.sort(key=lambda wc: -wc[1])  # stable: ties stay in order of first appearance
    words, freq = zip(*kept, strict=True)
    total = sum(counts.values())
    return SubwordVocab(words, freq, minn=minn, maxn=maxn, bucket=bucket, ntokens=total)
