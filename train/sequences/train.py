"""Sequence recipe: CTC with greedy decoding, and teacher forcing vs open loop, with and
without encoder-decoder attention.

The models train through the engine (:func:`jaxdl.training.train`) on batches made on
the device from each step's key (:class:`~jaxdl.training.Generated`), as stages of one
:class:`~jaxdl.training.Run`: CTC first, then one adder per ``config.seq2seq.attention``
kind (same key, so the same data and initial embedding draw order for each). Each adder
is evaluated on sums of ``digits`` digits and on the longer ``longer_digits`` sums it
never saw; ``seq2seq_accuracy.md`` tabulates them and ``attention.png`` shows the
attention weights of a few examples.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from jaxdl import parallel
from jaxdl.data.addition import EQUALS, PLUS, VOCAB_SIZE, addition_batch
from jaxdl.data.synthetic_speech import speech_batch
from jaxdl.nn.ctc import CTCTagger, ctc_tagger_loss, ctc_tagger_metrics
from jaxdl.nn.seq2seq import ATTENTION_KINDS, Seq2Seq, seq2seq_metrics, teacher_forced_loss
from jaxdl.training import Generated, Run, TrainResult, TrainState, plot_curves, train

from .._common import check_scale_support, open_run, setup
from .report import accuracy_table, plot_attention

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


def _adder_metrics(model: Seq2Seq, batches: dict[str, Any]) -> dict:
    """:func:`seq2seq_metrics` on each batch, its keys behind the batch's prefix."""
    return {p + k: v for p, b in batches.items() for k, v in seq2seq_metrics(model, b).items()}


class AdderBatch(NamedTuple):
    """An :class:`~jaxdl.data.addition.AdditionBatch` plus the attention mask."""

    source: jax.Array  # (batch, src)
    target_inputs: jax.Array  # (batch, tgt)
    targets: jax.Array  # (batch, tgt)
    source_mask: jax.Array | None  # (batch, src), True on operand tokens; None: all


def _adder_batch(
    key: jax.Array,
    *,
    batch_size: int,
    digits: int,
    reverse: bool,
    flip: bool,
    interleave: bool = False,
    mixed: bool = False,
    mask: bool = False,
) -> AdderBatch:
    """:func:`addition_batch`, with ``flip`` each operand written least significant digit
    first ("042+917" -> "240+719"): the digits the decoder needs at answer step ``k``
    (reversed answer) then sit ``k`` tokens after the start and after "+" at any length.

    ``interleave`` writes the operands' digits alternately, without "+" ("240+719" ->
    "274109"): answer step ``k`` then needs source tokens ``2k`` and ``2k + 1``.
    ``mixed`` draws each sum's operand length uniformly from 1 to ``digits`` and pads
    the shorter sources on the left with "=" tokens (the answers keep ``digits + 1``
    digits, the leading ones 0); with ``mask`` the batch's ``source_mask`` hides that
    padding from attention (the encoder still reads it)."""
    b = addition_batch(key, batch_size=batch_size, digits=digits, reverse=reverse)
    a, c = b.source[:, :digits], b.source[:, digits + 1 :]
    valid = jnp.ones((batch_size, digits), bool)
    if mixed:  # keep the last n digits of each operand: a, c < 10 ** n
        n = jax.random.randint(jax.random.fold_in(key, 1), (batch_size, 1), 1, digits + 1)
        valid = jnp.arange(digits)[None] >= digits - n
        a, c = jnp.where(valid, a, 0), jnp.where(valid, c, 0)
        total = sum(x * 10 ** jnp.arange(digits - 1, -1, -1) for x in (a, c)).sum(-1)
        b = b._replace(**_answer(total, digits=digits, reverse=reverse))
    if flip:
        a, c, valid = a[:, ::-1], c[:, ::-1], valid[:, ::-1]
    if interleave:
        source = jnp.stack([a, c], -1).reshape(batch_size, 2 * digits)
        valid = jnp.repeat(valid, 2, axis=1)
    else:
        plus = jnp.full((batch_size, 1), PLUS)
        source = jnp.concatenate([a, plus, c], axis=1)
        valid = jnp.concatenate([valid, jnp.ones_like(plus, bool), valid], axis=1)
    # Left padding: the operand tokens, in order, move to the end; "=" fills the start.
    order = jnp.argsort(valid, axis=1, stable=True)
    source = jnp.take_along_axis(jnp.where(valid, source, EQUALS), order, axis=1)
    source_mask = jnp.take_along_axis(valid, order, axis=1) if mask else None
    return AdderBatch(source, b.target_inputs, b.targets, source_mask)


def _answer(total: jax.Array, *, digits: int, reverse: bool) -> dict[str, jax.Array]:
    """The target fields of :func:`addition_batch` for the sums ``total``."""
    targets = (total[:, None] // 10 ** jnp.arange(digits, -1, -1)) % 10
    if reverse:
        targets = targets[:, ::-1]
    start = jnp.full_like(targets[:, :1], EQUALS)
    return {"targets": targets, "target_inputs": jnp.concatenate([start, targets[:, :-1]], 1)}


def _stage(kind: str) -> str:
    """The adder's stage name (and metric prefix): the plain model keeps ``seq2seq``."""
    return "seq2seq" if kind == "none" else f"seq2seq_{kind}"


def _train_task(
    run: Run,
    name: str,
    c: ml_collections.ConfigDict,
    *,
    key: jax.Array,
    model_fn: Callable[[jax.Array], nnx.Module],
    batch_fn: Callable[..., Any],
    eval_fn: Callable[[jax.Array], Any],
    loss_fn: Callable[..., Any],
    metrics_fn: Callable[..., dict],
    progress: bool,
    mesh: Any = None,
    accum_steps: int = 1,
    epoch_offset: int = 0,
) -> tuple[TrainResult, float]:
    """Trains one task as the next stage of ``run`` with Adam (cosine decay, clipped),
    evaluating on ``eval_fn(key)`` (a batch or a dict of them) from a key the training
    batches never use. With a ``mesh`` the training and evaluation batches are split over
    its batch axes.

    Returns the result and the training seconds."""
    k_model, k_data, k_eval = jax.random.split(key, 3)
    schedule = optax.cosine_decay_schedule(c.learning_rate, c.num_steps, alpha=0.05)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    state = TrainState.create(model_fn(k_model), tx, key=k_data)
    eval_batch = eval_fn(k_eval)
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
    """Trains CTC and the adders; writes metrics.jsonl (records tagged by task), per-task
    curves, seq2seq_accuracy.md, attention.png and summary.json. A config with a
    ``hubert`` field runs :mod:`train.sequences.hubert` instead."""
    if "hubert" in config:
        from .hubert import train_and_evaluate as hubert_run

        return hubert_run(config, workdir)
    # TensorBoard off: the tasks log train_loss at the same steps. Each task is a stage
    # of the run with its own checkpoints, so a killed run resumes in any of them.
    check_scale_support(config, UNSUPPORTED)
    mesh = setup(config)
    scale = {"mesh": mesh, "accum_steps": config.accum_steps}
    c, s = config.ctc, config.seq2seq
    kinds = _attention_kinds(s)
    with open_run(config, workdir, "sequences", tensorboard=False, curves=False) as run:
        key_ctc, key_s2s = jax.random.split(jax.random.key(config.seed))
        speech = functools.partial(speech_batch, **{f: c[f] for f in _SPEECH_FIELDS})
        ctc, ctc_seconds = _train_task(
            run,
            "ctc",
            c,
            key=key_ctc,
            model_fn=lambda k: CTCTagger(
                c.features, c.num_symbols + 1, hidden=c.hidden, rngs=nnx.Rngs(k)
            ),
            batch_fn=speech,
            eval_fn=lambda k: speech(k, batch_size=c.eval_size),
            loss_fn=ctc_tagger_loss,
            metrics_fn=ctc_tagger_metrics,
            progress=config.progress,
            **scale,
        )
        metrics = {
            "test_label_error_rate": ctc.metrics["test_label_error_rate"],
            "test_ctc_loss": ctc.metrics["test_loss"],
            "ctc_seconds": ctc_seconds,
        }
        layout = {"reverse": s.reverse, "flip": s.reverse_operands, "interleave": s.interleave}
        prefixes = {s.digits: "", **{d: f"longer{d}_" for d in s.longer_digits}}
        offset = -(-c.num_steps // c.chunk_steps)  # the epochs of the stages before
        models, results = {}, {}
        for kind in kinds:
            stage = _stage(kind)
            result, seconds = _train_task(
                run,
                stage,
                s,
                key=key_s2s,  # the same data and evaluation sums for every kind
                model_fn=lambda k, kind=kind: Seq2Seq(
                    VOCAB_SIZE,
                    hidden=s.hidden,
                    attention=None if kind == "none" else kind,
                    rngs=nnx.Rngs(k),
                ),
                batch_fn=functools.partial(
                    _adder_batch,
                    digits=s.digits,
                    mixed=s.mixed_lengths,
                    mask=s.mixed_lengths and kind != "none",
                    **layout,
                ),
                eval_fn=lambda k: {  # full-length sums, nothing padded
                    p: _adder_batch(k, batch_size=s.eval_size, digits=d, **layout)
                    for d, p in prefixes.items()
                },
                loss_fn=teacher_forced_loss,
                metrics_fn=_adder_metrics,
                progress=config.progress,
                **scale,
                epoch_offset=offset,
            )
            offset += -(-s.num_steps // s.chunk_steps)
            models[kind], results[kind] = result.state.model(), result.metrics
            # The plain adder keeps its keys (test_teacher_forced_...); the others are
            # named after their stage (test_seq2seq_additive_...).
            rename = "test_" if kind == "none" else f"test_{stage}_"
            metrics |= {
                rename + k.removeprefix("test_"): v
                for k, v in result.metrics.items()
                if k.startswith("test_")
            }
            metrics[f"{stage}_seconds"] = seconds
        table = accuracy_table(results, digits=s.digits, longer=tuple(s.longer_digits))
        if run.path("seq2seq_accuracy.md") is not None:
            run.path("seq2seq_accuracy.md").write_text(table)
        attentive = {k: m for k, m in models.items() if k != "none"}
        if attentive and s.attention_examples and run.path("attention.png") is not None:
            plot_attention(
                attentive,
                run.path("attention.png"),
                key=jax.random.fold_in(key_s2s, 1),
                digits=(s.digits, max(s.longer_digits, default=s.digits)),
                examples=s.attention_examples,
                batch_fn=functools.partial(_adder_batch, **layout),
            )
        return run.finish(metrics)


def _attention_kinds(s: ml_collections.ConfigDict) -> tuple[str, ...]:
    """``config.seq2seq.attention`` as a tuple of kinds, each checked."""
    kinds = (s.attention,) if isinstance(s.attention, str) else tuple(s.attention)
    allowed = ("none", *ATTENTION_KINDS)
    bad = [k for k in kinds if k not in allowed]
    if not kinds or bad or len(set(kinds)) != len(kinds):
        raise ValueError(
            f"config.seq2seq.attention is {kinds!r}, expected distinct kinds out of "
            f"{allowed!r} (at least one)."
        )
    bad = [d for d in s.longer_digits if d <= s.digits]
    if bad:
        raise ValueError(
            f"config.seq2seq.longer_digits has {bad!r}, expected each above "
            f"config.seq2seq.digits ({s.digits})."
        )
    return kinds
