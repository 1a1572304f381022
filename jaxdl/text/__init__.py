"""Word vectors from subwords (seed 003, "SubWords"): fastText's character n-grams and
hashing, skip-gram with negative sampling over words and n-grams, and an offline English
corpus. The ``subwords`` recipe trains them; ``benchmarks/subwords.py`` times them
against the fastText binary.
"""

from jaxdl.text.corpus import FORTUNES_DIR, CorpusNotFoundError, load_fortunes, normalize
from jaxdl.text.similarity import analogy, nearest
from jaxdl.text.skipgram import SkipGram, encode_lines, keep_probs, negative_cdf, train_skipgram
from jaxdl.text.subwords import (
    EOS,
    SubwordVocab,
    build_vocab,
    char_ngrams,
    fasttext_hash,
    word_vectors,
)

__all__ = [
    "EOS",
    "CorpusNotFoundError",
    "FORTUNES_DIR",
    "SkipGram",
    "SubwordVocab",
    "analogy",
    "build_vocab",
    "char_ngrams",
    "encode_lines",
    "fasttext_hash",
    "keep_probs",
    "load_fortunes",
    "nearest",
    "negative_cdf",
    "normalize",
    "train_skipgram",
    "word_vectors",
]
