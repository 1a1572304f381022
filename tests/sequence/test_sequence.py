"""CTC loss/decoding/edit distance, the synthetic tasks, and the seq2seq model's two modes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl.data.addition import EQUALS, VOCAB_SIZE, addition_batch, decode
from jaxdl.data.synthetic_speech import max_frames, speech_batch
from jaxdl.losses import ctc_loss
from jaxdl.nn.ctc import edit_distance, greedy_decode, label_error_rate
from jaxdl.nn.seq2seq import Seq2Seq


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


def test_speech_batches_are_well_formed():
    b = speech_batch(jax.random.key(1), batch_size=16, max_labels=5, noise=0.0)
    labels, n = np.asarray(b.labels), np.asarray(b.label_lengths)
    assert b.frames.shape == (16, max_frames(5), 16)
    for row, length, frames, t in zip(labels, n, np.asarray(b.frames), np.asarray(b.frame_lengths),
                                      strict=True):  # fmt: skip
        assert 1 <= length <= 5 and np.all(row[length:] == 0) and np.all(row[:length] > 0)
        assert np.all(row[1:length] != row[: length - 1])  # no immediate repeats
        assert 2 * length <= t and np.all(frames[t:] == 0)

    # Without noise, reading the frames back through the prototypes gives the labels.
    @jax.jit
    def read_back(b):
        protos = jax.random.normal(jax.random.key(0), (11, 16)).at[0].set(0.0)
        nearest = jnp.argmin(((b.frames[:, :, None] - protos) ** 2).sum(-1), -1)
        decoded, dn = greedy_decode(jax.nn.one_hot(nearest, 11), b.frame_lengths)
        return label_error_rate(decoded, dn, b.labels, b.label_lengths)

    assert float(read_back(b)) == 0.0


def test_addition_batches_add_up():
    b = addition_batch(jax.random.key(3), batch_size=50, digits=3)
    for s, t, ti in zip(b.source, b.targets, b.target_inputs, strict=True):
        src = decode(s)
        assert int(src[:3]) + int(src[4:]) == int(decode(t))
        assert int(ti[0]) == EQUALS and decode(ti[1:]) == decode(t)[:-1]


def test_open_loop_is_teacher_forcing_on_its_own_predictions():
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, rngs=nnx.Rngs(0))
    b = addition_batch(jax.random.key(4), batch_size=8, digits=2)
    start = jnp.full((8,), EQUALS)
    forced = nnx.jit(lambda m, t: m(b.source, t))
    free = nnx.jit(lambda m: m.generate(b.source, start=start, length=3))(model)
    own = jnp.concatenate([start[:, None], jnp.argmax(free, -1)[:, :-1]], axis=1)
    np.testing.assert_allclose(forced(model, own), free, atol=1e-5)
    # Causality: changing a later decoder input leaves earlier logits alone.
    changed = b.target_inputs.at[:, 2].set(0)
    np.testing.assert_allclose(forced(model, changed)[:, :2],
                               forced(model, b.target_inputs)[:, :2], atol=1e-6)  # fmt: skip
