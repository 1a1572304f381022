"""fastText's subwords: hashing, n-grams, the vocabulary, word vectors, skip-gram training,
and parity with the ``fasttext`` package (skipped where it is not installed)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl.text import (
    EOS,
    SkipGram,
    SubwordVocab,
    analogy,
    build_vocab,
    char_ngrams,
    encode_lines,
    fasttext_hash,
    load_fortunes,
    nearest,
    normalize,
    train_skipgram,
)


def reference_fnv1a(data: bytes, *, signed: bool) -> int:
    """FNV-1a written from its definition; ``signed``: bytes read as int8 (fastText)."""
    h = 0x811C9DC5
    for b in data:
        x = b - 256 if signed and b >= 128 else b
        h = ((h ^ (x & 0xFFFFFFFF)) * 0x01000193) % 2**32
    return h


def test_hash_is_fnv1a_with_fasttexts_int8_bytes():
    assert fasttext_hash("a") == 0xE40C292C  # the published FNV-1a test vector
    for s in ["<th", "ing>", "café", "naïve", "日本語", "\x7f"]:
        b = s.encode()
        assert fasttext_hash(s) == reference_fnv1a(b, signed=True)
        assert fasttext_hash(b) == fasttext_hash(s)
    # Non-ASCII bytes are where fastText's int8_t cast changes the hash.
    assert fasttext_hash("é") != reference_fnv1a("é".encode(), signed=False)


def test_ngrams_count_characters_and_skip_boundary_unigrams():
    assert char_ngrams("where", minn=3, maxn=3) == ["<wh", "whe", "her", "ere", "re>"]
    assert char_ngrams("é", minn=1, maxn=2) == ["<é", "é", "é>"]
    assert char_ngrams("ab", minn=4, maxn=6) == ["<ab>"]
    assert char_ngrams("abc", minn=0, maxn=0) == []


def test_subwords_are_the_word_then_its_hashed_ngrams():
    vocab = SubwordVocab(("where", EOS), (3, 1), minn=3, maxn=3, bucket=100)
    strings, ids = vocab.subwords("where")
    assert strings == ["where", "<wh", "whe", "her", "ere", "re>"]
    assert ids == [0] + [2 + fasttext_hash(g) % 100 for g in strings[1:]]
    assert vocab.subwords(EOS) == ([EOS], [1])  # no n-grams for the end of line
    assert vocab.subwords("here")[1][0] != 0  # unseen: only n-grams
    table = vocab.table(["where", "here", EOS])
    assert table.shape == (3, 6) and (table[2, 1:] == vocab.num_rows).all()


def test_vectors_of_unseen_words_are_means_of_their_ngram_rows():
    vocab = SubwordVocab(("cat", "dog"), (2, 2), minn=2, maxn=3, bucket=50)
    w_in = np.random.default_rng(0).normal(size=(vocab.num_rows, 4)).astype(np.float32)
    words = ["cats", "cat", "x"]
    got = np.asarray(vocab.vectors(words, w_in))
    for word, row in zip(words, got, strict=True):
        np.testing.assert_allclose(row, w_in[vocab.subwords(word)[1]].mean(0), rtol=1e-6)


def test_bad_inputs_are_one_sentence_each():
    with pytest.raises(ValueError, match=r"minn and maxn .*got minn=5, maxn=3"):
        char_ngrams("word", minn=5, maxn=3)
    with pytest.raises(ValueError, match=r"minn and maxn .*got minn=7, maxn=6"):
        build_vocab(["a a a a a"], minn=7, maxn=6)
    with pytest.raises(ValueError, match=r"lines must hold words .* got a corpus of 0 words"):
        build_vocab([])
    with pytest.raises(ValueError, match=r"got a corpus of 2 words"):
        build_vocab(["rare words"], min_count=5)
    with pytest.raises(ValueError, match=r"input_matrix must have num_rows=52"):
        SubwordVocab(("a", "b"), (1, 1), bucket=50).vectors(["a"], np.zeros((3, 2)))


def test_vocab_is_sorted_by_count_with_an_eos_per_line():
    vocab = build_vocab(["b a b", "c b a"], min_count=2)
    assert vocab.words == ("b", "a", EOS) and vocab.counts == (3, 2, 2)
    assert vocab.ntokens == 8  # "c" too: subsampling divides by every token read
    tokens, line_ids = encode_lines(["b a b", "c b a"], vocab)
    assert tokens.tolist() == [0, 1, 0, 2, 0, 1, 2] and line_ids.tolist() == [0] * 4 + [1] * 3


def topics(seed: int, n: int = 400) -> list[str]:
    """Lines about animals or about numbers, never both: the windows decide the vectors."""
    rng = np.random.default_rng(seed)
    groups = [["cat", "dog", "cow", "hen"], ["one", "two", "six", "ten"]]
    return [" ".join(rng.choice(groups[i % 2], 8)) for i in range(n)]


def test_training_lowers_the_loss_groups_words_by_context_and_repeats():
    lines = topics(0, 240)
    vocab = build_vocab(lines, min_count=1, minn=2, maxn=3, bucket=64)
    tokens, line_ids = encode_lines(lines, vocab)
    config = SkipGram(dim=16, epoch=4, t=1.0, batch_size=4)  # 9 words: small batches
    w_in, w_out, loss = train_skipgram(
        vocab, tokens, line_ids, config=config, key=jax.random.key(0)
    )
    assert w_in.shape == (vocab.num_rows, 16) and w_out.shape == (vocab.nwords, 16)
    assert (
        np.isfinite(loss).all() and loss[-1] < 0.95 * loss[0]
    )  # same-topic negatives keep it high
    words = [w for w in vocab.words if w != EOS]
    vectors = vocab.vectors(words, w_in)
    for word, near in zip(
        words, nearest(vectors, vectors, words, k=3, exclude=[[w] for w in words]), strict=True
    ):
        same = (
            {"cat", "dog", "cow", "hen"}
            if word in "cat dog cow hen"
            else {"one", "two", "six", "ten"}
        )
        assert {w for w, _ in near} == same - {word}, (word, near)
    assert analogy("cat", "dog", "one", vectors, words, k=1)[0][0] in {"two", "six", "ten"}
    # The same key gives the same vectors, bit for bit (the compiled program is reused).
    again = train_skipgram(vocab, tokens, line_ids, config=config, key=jax.random.key(0))[0]
    np.testing.assert_array_equal(np.asarray(again), np.asarray(w_in))


def test_normalize_and_the_fortunes_corpus(tmp_path):
    assert normalize("Don't PANIC! -- 'Quoted' 42") == "don't panic quoted"
    (tmp_path / "jokes").write_text("One fish.\n%\nTwo fish,\nred fish.\n%\n")
    (tmp_path / "jokes.dat").write_bytes(b"\x00\x01")
    assert load_fortunes(tmp_path) == ["one fish", "two fish red fish"]
    with pytest.raises(FileNotFoundError, match="apt-get install fortunes"):
        load_fortunes(tmp_path / "missing")
