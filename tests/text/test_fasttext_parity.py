"""Parity with fastText itself (the ``fasttext`` / ``fasttext-wheel`` bindings, extra
``fasttext``): the same subword ids, and the same vectors for unseen words from the same
input matrix. Skipped where the package is not installed."""

from __future__ import annotations

import numpy as np
import pytest

from jaxdl.text import SubwordVocab, build_vocab

fasttext = pytest.importorskip("fasttext")

LETTERS = list("abcdefghijklmnopqrstuvwxyz") + ["é", "ü", "ß", "日", "本", "ж"]
SETTINGS = dict(minn=2, maxn=5, bucket=20_000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A fastText skip-gram trained for one epoch on made-up words, some non-ASCII."""
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(LETTERS, rng.integers(1, 9))) for _ in range(600)]
    lines = [" ".join(rng.choice(words, rng.integers(3, 12))) for _ in range(1500)]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = fasttext.train_unsupervised(
        str(path), model="skipgram", dim=8, epoch=1, minCount=2, thread=1, verbose=0, **SETTINGS
    )
    return model, lines, rng


def unseen_words(model, rng, n):
    known = set(model.words)
    out = []
    while len(out) < n:
        w = "".join(rng.choice(LETTERS, rng.integers(1, 14)))
        if w not in known:
            out.append(w)
    return out


def test_subword_ids_equal_fasttexts(trained):
    model, _, rng = trained
    words, counts = model.get_words(include_freq=True)
    vocab = SubwordVocab(tuple(words), tuple(int(c) for c in counts), **SETTINGS)
    checked = list(words) + unseen_words(model, rng, 1000)
    assert len(checked) >= 1000
    for word in checked:
        strings, ids = model.get_subwords(word)
        assert vocab.subwords(word) == (list(strings), ids.tolist()), word


def test_unseen_word_vectors_equal_get_word_vector(trained):
    model, _, rng = trained
    vocab = SubwordVocab(tuple(model.words), (1,) * len(model.words), **SETTINGS)
    words = unseen_words(model, rng, 200) + list(model.words[:50])
    got = np.asarray(vocab.vectors(words, model.get_input_matrix()))
    want = np.stack([model.get_word_vector(w) for w in words])
    assert np.abs(want).max() > 1e-3  # a trained matrix, not zeros
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_vocabulary_equals_fasttexts_up_to_the_order_of_ties(trained):
    model, lines, _ = trained
    ours = build_vocab(lines, min_count=2, **SETTINGS)
    words, counts = model.get_words(include_freq=True)
    assert dict(zip(ours.words, ours.counts, strict=True)) == dict(
        zip(words, counts.tolist(), strict=True)
    )
    assert list(ours.counts) == counts.tolist()  # most frequent first, like fastText
    assert ours.ntokens == sum(len(line.split()) + 1 for line in lines)
