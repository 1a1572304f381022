"""CTC: the loss with lengths, greedy decoding, edit distance, the tagger's training loss
and evaluation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl.data.synthetic_speech import speech_batch
from jaxdl.losses import ctc_loss
from jaxdl.nn.ctc import (
    CTCTagger,
    ctc_tagger_loss,
    ctc_tagger_metrics,
    edit_distance,
    greedy_decode,
    label_error_rate,
)


def levenshtein(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_ctc_loss_is_optax_with_lengths_and_checks_shapes():
    logits = jax.random.normal(jax.random.key(0), (3, 9, 5))
    labels = jnp.array([[1, 2, 0], [3, 3, 4], [2, 0, 0]])
    got = ctc_loss(logits, jnp.array([9, 6, 4]), labels, jnp.array([2, 3, 1]))
    pad = lambda n, w: (jnp.arange(w)[None] >= jnp.array(n)[:, None]).astype(float)  # noqa: E731
    want = optax.ctc_loss(logits, pad([9, 6, 4], 9), labels, pad([2, 3, 1], 3))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match="label_lengths"):
        ctc_loss(logits, jnp.array([9, 6, 4]), labels, jnp.array([2, 3]))


def test_greedy_decode_merges_repeats_drops_blanks_and_respects_lengths():
    frames = jnp.array([[0, 3, 3, 0, 3, 1, 1, 2], [2, 2, 0, 2, 0, 0, 1, 1]])
    labels, n = greedy_decode(jax.nn.one_hot(frames, 4), jnp.array([8, 5]))
    assert labels[0, : int(n[0])].tolist() == [3, 3, 1, 2]
    assert labels[1, : int(n[1])].tolist() == [2, 2]  # frames past length 5 are ignored
    assert int(jnp.sum(labels[1] >= 0)) == 2  # the rest is padding


def test_edit_distance_matches_the_textbook_recursion():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, size=(40, 6))
    b = rng.integers(0, 3, size=(40, 5))
    la, lb = rng.integers(0, 7, 40), rng.integers(0, 6, 40)
    got = jax.jit(jax.vmap(edit_distance))(a, la, b, lb)
    want = [levenshtein(list(x[:m]), list(y[:k])) for x, m, y, k in zip(a, la, b, lb, strict=True)]
    assert np.asarray(got).tolist() == want
    assert float(label_error_rate(b, lb, b, lb)) == 0.0


@pytest.mark.slow
def test_tagger_loss_and_metrics_agree_and_a_perfect_tagger_scores_zero_errors():
    b = speech_batch(jax.random.key(2), batch_size=6, max_labels=3, noise=0.5)
    model = CTCTagger(16, 11, hidden=8, rngs=nnx.Rngs(0))
    loss, metrics = ctc_tagger_loss(model, b, train=True, key=jax.random.key(0))
    assert set(metrics) == {"loss"} and loss.shape == ()
    evaluation = ctc_tagger_metrics(model, b)
    np.testing.assert_allclose(evaluation["loss"], loss, rtol=1e-6)
    want = ctc_loss(model(b.frames, b.frame_lengths), b.frame_lengths, b.labels,
                    b.label_lengths).mean()  # fmt: skip
    np.testing.assert_allclose(loss, want, rtol=1e-6)

    # A "model" that reads the labels off a one-hot spelling "1 _ 2 _ ..." decodes them.
    def spelled(frames, lengths, **_):
        del frames
        t = jnp.arange(2 * b.labels.shape[1])
        tokens = jnp.where(t % 2 == 0, b.labels[:, t // 2], 0)
        return 10.0 * jax.nn.one_hot(tokens, 11)

    perfect = ctc_tagger_metrics(spelled, b._replace(frame_lengths=2 * b.label_lengths))
    assert float(perfect["label_error_rate"]) == 0.0
