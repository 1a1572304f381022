"""Training the CTC tagger on synthetic speech: the whole run is chunks of ``lax.scan``.

Batches are generated on the device from ``fold_in(key, step)``, so there is no input
pipeline and the run is reproducible bit for bit from its seed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import optax
from flax import nnx

from jaxdl.data.synthetic_speech import speech_batch
from jaxdl.losses import ctc_loss
from jaxdl.nn.ctc import CTCTagger, greedy_decode, label_error_rate
from jaxdl.training.generated import train_generated
from jaxdl.training.state import TrainState


class CTCResult(NamedTuple):
    state: TrainState
    history: list[dict[str, float]]  # per chunk: step, train_loss, test_loss, test LER
    metrics: dict[str, float]  # final: label_error_rate, loss on the eval set
    seconds: float


def ctc_loss_fn(model: Any, batch: Any, *, train: bool, key: jax.Array | None):
    """Mean CTC loss per sequence of ``model`` on a :class:`SpeechBatch`."""
    logits = model(batch.frames, batch.frame_lengths, train=train, key=key)
    loss = ctc_loss(logits, batch.frame_lengths, batch.labels, batch.label_lengths).mean()
    return loss, {"loss": loss}


@jax.jit
def evaluate_ctc(state: TrainState, batch: Any) -> dict[str, jax.Array]:
    """Greedy-decoded label error rate and mean CTC loss on ``batch``."""
    model = state.model()
    logits = model(batch.frames, batch.frame_lengths)
    decoded, lengths = greedy_decode(logits, batch.frame_lengths)
    ler = label_error_rate(decoded, lengths, batch.labels, batch.label_lengths)
    loss = ctc_loss(logits, batch.frame_lengths, batch.labels, batch.label_lengths).mean()
    return {"label_error_rate": ler, "loss": loss}


def train_ctc(
    *,
    key: jax.Array,
    num_steps: int = 1500,
    chunk_steps: int = 100,
    batch_size: int = 32,
    hidden: int = 64,
    learning_rate: float = 3e-3,
    task: dict[str, Any] | None = None,
    eval_size: int = 512,
    progress: bool = True,
    on_chunk: Callable[[dict[str, float]], None] | None = None,
) -> CTCResult:
    """Trains a :class:`CTCTagger` with Adam (cosine decay) and evaluates greedy decoding.

    ``task`` holds :func:`speech_batch` settings (num_symbols, features, max_labels, noise).
    The eval set is a fixed batch drawn from a key the training batches never use.
    """
    task = dict(task or {})
    task.setdefault("num_symbols", 10)
    task.setdefault("features", 16)
    k_model, k_data, k_eval = jax.random.split(key, 3)
    model = CTCTagger(task["features"], task["num_symbols"] + 1, hidden=hidden,
                      rngs=nnx.Rngs(k_model))  # fmt: skip
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    state = TrainState.create(model, tx, key=k_data)
    eval_batch = speech_batch(k_eval, batch_size=eval_size, **task)

    tic = time.perf_counter()
    state, history = train_generated(
        state,
        functools.partial(speech_batch, batch_size=batch_size, **task),
        loss_fn=ctc_loss_fn,
        num_steps=num_steps,
        chunk_steps=chunk_steps,
        evaluate=lambda state: evaluate_ctc(state, eval_batch),
        progress=progress,
        desc="ctc",
        on_chunk=on_chunk,
    )
    seconds = time.perf_counter() - tic
    final = {k: float(v) for k, v in evaluate_ctc(state, eval_batch).items()}
    return CTCResult(state, history, final, seconds)
