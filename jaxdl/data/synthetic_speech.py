"""A synthetic 'spoken digits' task for CTC: noisy per-symbol frames of random lengths.

Each example is a digit string of random length; every digit is spoken as 2-4 frames
near that digit's prototype vector, with 0-2 frames of silence (noise around zero)
before each digit and after the last. Consecutive digits differ, so a repeat is never
hidden inside one run of frames. The frames say nothing about where one digit ends,
which is exactly what CTC's sum over alignments is for.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

MIN_FRAMES, MAX_FRAMES, MAX_SILENCE = 2, 4, 2


class SpeechBatch(NamedTuple):
    frames: Float[Array, " batch time features"]
    frame_lengths: Int[Array, " batch"]
    labels: Int[Array, " batch max_labels"]  # 1..num_symbols, padded with 0 (the blank)
    label_lengths: Int[Array, " batch"]
    # What each frame says: its digit 1..num_symbols, 0 for silence and padding. CTC never
    # reads it; it is the ground truth that unsupervised frame clusters are scored against.
    frame_symbols: Int[Array, " batch time"] | None = None


def max_frames(max_labels: int) -> int:
    """Frames needed for the longest example.

    >>> max_frames(6)  # 6 digits of at most 4 frames, each after at most 2 of silence, + 2
    38
    """
    return max_labels * (MAX_FRAMES + MAX_SILENCE) + MAX_SILENCE


@functools.partial(
    jax.jit,
    static_argnames=("batch_size", "num_symbols", "features", "min_labels", "max_labels"),
)
def speech_batch(
    key: PRNGKeyArray,
    *,
    batch_size: int,
    num_symbols: int = 10,
    features: int = 16,
    min_labels: int = 1,
    max_labels: int = 6,
    noise: float = 1.0,
    prototype_seed: int = 0,
) -> SpeechBatch:
    """A batch of the task; the symbol prototypes depend only on ``prototype_seed``.

    ``frames`` has ``max_frames(max_labels)`` steps (the longest possible utterance);
    ``tests/sequence`` checks every property the module docstring promises.
    """
    if not 1 <= min_labels <= max_labels or num_symbols < 2:
        raise ValueError(
            f"min_labels={min_labels}, max_labels={max_labels}, num_symbols={num_symbols}; "
            "expected 1 <= min_labels <= max_labels and num_symbols >= 2."
        )
    protos = jax.random.normal(jax.random.key(prototype_seed), (num_symbols + 1, features))
    protos = protos.at[0].set(0.0)  # silence
    t_max = max_frames(max_labels)

    def one(k):
        k_len, k_first, k_step, k_dur, k_sil, k_tail, k_noise = jax.random.split(k, 7)
        length = jax.random.randint(k_len, (), min_labels, max_labels + 1)
        # No immediate repeats: each next symbol is the previous plus 1..S-1 (mod S).
        first = jax.random.randint(k_first, (), 0, num_symbols)
        steps = jax.random.randint(k_step, (max_labels - 1,), 1, num_symbols)
        symbols = (first + jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(steps)])) % (
            num_symbols
        ) + 1
        used = jnp.arange(max_labels) < length
        labels = jnp.where(used, symbols, 0)
        dur = jnp.where(
            used, jax.random.randint(k_dur, (max_labels,), MIN_FRAMES, MAX_FRAMES + 1), 0
        )
        sil = jnp.where(used, jax.random.randint(k_sil, (max_labels,), 0, MAX_SILENCE + 1), 0)
        end = jnp.cumsum(sil + dur)  # frame after each digit
        start = end - dur
        t = jnp.arange(t_max)
        seg = jnp.searchsorted(end, t, side="right")  # the first digit not yet finished
        seg_c = jnp.minimum(seg, max_labels - 1)
        speaking = (seg < length) & (t >= start[seg_c])
        frame_symbol = jnp.where(speaking, labels[seg_c], 0)
        n_frames = end[length - 1] + jax.random.randint(k_tail, (), 0, MAX_SILENCE + 1)
        frames = protos[frame_symbol] + noise * jax.random.normal(k_noise, (t_max, features))
        frames = jnp.where((t < n_frames)[:, None], frames, 0.0)
        return SpeechBatch(frames, n_frames, labels, length, frame_symbol)

    return jax.vmap(one)(jax.random.split(key, batch_size))
