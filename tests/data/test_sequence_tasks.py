"""The synthetic sequence tasks: spoken digits for CTC, sums for the seq2seq adder."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data.addition import EQUALS, addition_batch, decode
from jaxdl.data.synthetic_speech import max_frames, speech_batch
from jaxdl.nn.ctc import greedy_decode, label_error_rate


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
