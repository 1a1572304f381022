"""Sequence recipe: CTC with greedy decoding, and teacher forcing vs open loop.

Both models train through the engine (:func:`jaxdl.training.train`) on batches made on
the device from each step's key (:class:`~jaxdl.training.Generated`), as two stages of
one :class:`~jaxdl.training.Run`: CTC first, then the adder.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import optax
from flax import nnx

from jaxdl import parallel
from jaxdl.data.addition import VOCAB_SIZE, addition_batch
from jaxdl.data.synthetic_speech import speech_batch
from jaxdl.nn.ctc import CTCTagger, ctc_tagger_loss, ctc_tagger_metrics
from jaxdl.nn.seq2seq import Seq2Seq, seq2seq_metrics, teacher_forced_loss
from jaxdl.training import Generated, Run, TrainResult, TrainState, plot_curves, train

from .._common import check_scale_support, open_run, setup

_SPEECH_FIELDS = ("num_symbols", "features", "max_labels", "noise")  # speech_batch settings
#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "the GRUs train in float32",
    "remat": "the GRUs have no checkpointed blocks",
    "processes": "the evaluation batches are made on one host",
}


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(metrics_fn: Callable[..., dict], state: TrainState, batch: Any) -> dict:
    return metrics_fn(state.model(), batch)


def _train_task(
    run: Run,
    name: str,
    c: ml_collections.ConfigDict,
    *,
    key: jax.Array,
    model_fn: Callable[[jax.Array], nnx.Module],
    batch_fn: Callable[..., Any],
    loss_fn: Callable[..., Any],
    metrics_fn: Callable[..., dict],
    progress: bool,
    mesh: Any = None,
    accum_steps: int = 1,
    epoch_offset: int = 0,
) -> tuple[TrainResult, float]:
    """Trains one task as the next stage of ``run`` with Adam (cosine decay, clipped),
    evaluating on a fixed batch from a key the training batches never use. With a
    ``mesh`` the training and evaluation batches are split over its batch axes.

    Returns the result and the training seconds."""
    k_model, k_data, k_eval = jax.random.split(key, 3)
    schedule = optax.cosine_decay_schedule(c.learning_rate, c.num_steps, alpha=0.05)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    state = TrainState.create(model_fn(k_model), tx, key=k_data)
    eval_batch = batch_fn(k_eval, batch_size=c.eval_size)
    split = None
    if mesh is not None:
        parallel.check_batch_size(c.batch_size, mesh, name=f"config.{name}.batch_size")
        parallel.check_batch_size(c.eval_size, mesh, name=f"config.{name}.eval_size")
        if accum_steps > 1:  # each micro-batch is split over the mesh too
            micro = f"config.{name}.batch_size / accum_steps"
            parallel.check_batch_size(c.batch_size // accum_steps, mesh, name=micro)
        split = parallel.batch_sharding(mesh)
        eval_batch = parallel.place(eval_batch, jax.tree.map(lambda _: split, eval_batch))
    num_epochs = -(-c.num_steps // c.chunk_steps)
    tic = time.perf_counter()
    result = train(
        state,
        Generated(
            functools.partial(batch_fn, batch_size=c.batch_size),
            c.chunk_steps,
            batch_sharding=split,
        ),
        loss_fn=loss_fn,
        mesh=mesh,
        accum_steps=accum_steps,
        num_epochs=num_epochs,
        num_steps=c.num_steps,
        run=run,
        evaluate=lambda state: _evaluate(metrics_fn, state, eval_batch),
        hooks=(lambda epoch, state: {"task": name},),
        progress=progress,
        desc=name,
        examples_per_step=c.batch_size,
        epoch_offset=epoch_offset,
        stage=name,
        checkpoint_every=num_epochs,  # each task's final model
    )
    seconds = time.perf_counter() - tic
    history = result.history
    if run.path(f"{name}_curves.png") is not None:
        plot_curves(history, run.path(f"{name}_curves.png"), x="step")
    return result, seconds


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains both models; writes metrics.jsonl (records tagged by task), per-task curves
    and summary.json."""
    # TensorBoard off: both tasks log train_loss at the same steps. Each task is a stage
    # of the run with its own checkpoints, so a killed run resumes in either.
    check_scale_support(config, UNSUPPORTED)
    mesh = setup(config)
    scale = {"mesh": mesh, "accum_steps": config.accum_steps}
    with open_run(config, workdir, "sequences", tensorboard=False, curves=False) as run:
        key_ctc, key_s2s = jax.random.split(jax.random.key(config.seed))
        c, s = config.ctc, config.seq2seq
        ctc, ctc_seconds = _train_task(
            run,
            "ctc",
            c,
            key=key_ctc,
            model_fn=lambda k: CTCTagger(
                c.features, c.num_symbols + 1, hidden=c.hidden, rngs=nnx.Rngs(k)
            ),
            batch_fn=functools.partial(speech_batch, **{f: c[f] for f in _SPEECH_FIELDS}),
            loss_fn=ctc_tagger_loss,
            metrics_fn=ctc_tagger_metrics,
            progress=config.progress,
            **scale,
        )
        s2s, s2s_seconds = _train_task(
            run,
            "seq2seq",
            s,
            key=key_s2s,
            model_fn=lambda k: Seq2Seq(VOCAB_SIZE, hidden=s.hidden, rngs=nnx.Rngs(k)),
            batch_fn=functools.partial(addition_batch, digits=s.digits, reverse=s.reverse),
            loss_fn=teacher_forced_loss,
            metrics_fn=seq2seq_metrics,
            progress=config.progress,
            **scale,
            epoch_offset=-(-c.num_steps // c.chunk_steps),  # the ctc stage's epochs
        )
        metrics = {
            "test_label_error_rate": ctc.metrics["test_label_error_rate"],
            "test_ctc_loss": ctc.metrics["test_loss"],
            **{k: v for k, v in s2s.metrics.items() if k.startswith("test_")},
            "ctc_seconds": ctc_seconds,
            "seq2seq_seconds": s2s_seconds,
        }
        return run.finish(metrics)
