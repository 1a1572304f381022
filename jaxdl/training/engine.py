"""The engine: compiled chunks of training steps over a batch source, and the driver.

One batch takes this path (see ``docs/architecture.md``)::

    source.inputs(epoch, start, stop)        host: indices / host batches / nothing
      -> chunk(state, source.data, inputs)   one jax.jit call, the state donated
         -> source.scan_inputs(...)          device: what lax.scan iterates over
         -> lax.scan over steps:
              source.batch(state, data, x)   this step's batch
              guarded_train_step(...)        loss_fn, gradient, optax update, NaN guard
      -> per-step metrics, first bad step    back to the host
    driver: progress bar, NaN check, then per epoch: evaluate, hooks, record,
            metrics.jsonl + TensorBoard, checkpoint (through a :class:`Run`)

Every recipe's training goes through :func:`train` (PPO too: one step is one update of a
vmapped stack of runners).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxdl.training import faults
from jaxdl.training import progress as pg
from jaxdl.training.report import (
    as_float,
    compiling_s,
    epoch_line,
    examples_per_s,
    fold_bad_steps,
    listen_to_compilations,
    mean,
    progress_bar,
    report_memory,
    short,
)
from jaxdl.training.run import Run
from jaxdl.training.sources import BatchSource
from jaxdl.training.state import TrainState
from jaxdl.training.step import LossFn, Metrics, guarded_train_step

ChunkFn = Callable[[TrainState, Any, Any, int], tuple[TrainState, Metrics, Metrics, jax.Array]]
Hook = Callable[[int, TrainState], Mapping[str, Any] | None]
StepFn = Callable[[Any, Any, jax.Array], tuple[Any, jax.Array, Metrics]]


def make_chunk(
    loss_fn: LossFn | None,
    source: BatchSource,
    *,
    accum_steps: int = 1,
    vmapped: bool = False,
    unroll: int = 1,
    step_fn: StepFn | None = None,
    mesh: Mesh | None = None,
) -> ChunkFn:
    """A jitted ``chunk(state, data, inputs, length) -> (state, metrics, sums, bad_step)``.

    Runs ``length`` (static) steps of :func:`~jaxdl.training.step.guarded_train_step` in
    one ``lax.scan`` over the batches of ``source``; the state is donated.

    Args:
      loss_fn: ``loss_fn(model, batch, *, train, key) -> (loss, metrics)``.
      source: a :class:`~jaxdl.training.sources.BatchSource`.
      accum_steps: micro-batches per step (gradient accumulation).
      vmapped: ``state`` is a stack of states (leading axis) that share ``data`` and
        ``inputs``: a sweep over seeds or hyperparameters in one program.
      unroll: steps per loop iteration of the scan (helps tiny models).
      step_fn: ``step_fn(state, batch, bad_step) -> (state, bad_step, metrics)``
        instead of :func:`~jaxdl.training.step.guarded_train_step` over ``loss_fn``:
        for algorithms whose step is not one optimiser update of one loss (a GAN's
        discriminator and generator updates). It must keep the NaN guard's contract.
      mesh: the mesh the state is placed on. When ``vmapped`` and it has a ``runs``
        axis, the vmap is ``spmd_axis_name="runs"``: sharding constraints inside a step
        (the batch's, say) then keep the stack's axis split over ``runs``.

    Returns:
      The jitted function. ``metrics`` holds each metric per step, ``(length,)``
      (``(runs, length)`` when ``vmapped``), ``sums`` their sums over the steps;
      ``bad_step`` is ``-1`` or the first step whose loss or parameters were not
      finite, after which updates were skipped.
    """

    if step_fn is None:
        if loss_fn is None:
            raise ValueError("make_chunk needs loss_fn or step_fn, got neither.")

        def step_fn(state, batch, bad_step):
            return guarded_train_step(
                state, batch, bad_step, loss_fn=loss_fn, accum_steps=accum_steps
            )

    def run(state: TrainState, data: Any, inputs: Any, length: int):
        xs = source.scan_inputs(state, data, inputs, length)

        def body(carry, x):
            state, bad_step = carry
            batch = source.batch(state, data, x)
            if source.batch_sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, source.batch_sharding)
            state, bad_step, metrics = step_fn(state, batch, bad_step)
            return (state, bad_step), metrics

        (state, bad_step), metrics = jax.lax.scan(
            body, (state, jnp.int32(-1)), xs, length=length, unroll=min(unroll, length)
        )
        return state, metrics, jax.tree.map(lambda m: m.sum(0), metrics), bad_step

    if vmapped:
        from jaxdl.parallel import RUNS_AXIS

        # Without a runs axis a constraint's stack axis stays unsharded (replicated).
        spmd = RUNS_AXIS if mesh is not None and RUNS_AXIS in mesh.axis_names else None
        run = jax.vmap(run, in_axes=(0, None, None, None), spmd_axis_name=spmd)
    return jax.jit(run, static_argnums=3, donate_argnums=0)


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
      state: the final state (a stack of states when ``vmapped``).
      history: one record per epoch: ``epoch``, ``step``, ``train_<metric>`` (mean over
        the epoch's steps, and over the runs when vmapped), ``train_examples_per_s``
        (when the source has a batch size), ``compile_s`` (in epochs that compiled),
        ``test_<metric>`` from ``evaluate`` and whatever the hooks returned.
        ``train_examples_per_s`` leaves compilation out: it is measured over the
        epoch's chunks that compiled nothing or, in an epoch whose every chunk compiled
        (one chunk per epoch, the first epoch), over the epoch's training time less
        ``compile_s``. ``compile_s`` is the time JAX reports spending, during the
        epoch's chunk calls, on tracing, lowering and compiling (or loading a compiled
        program from the persistent cache); it does not include evaluation.
      metrics: the last record.
      step_metrics: ``{metric: (steps,)}`` (``(runs, steps)`` when vmapped), every
        step's training metrics, when ``keep_step_metrics``.
      bad_step: the first non-finite step per run (``-1``: none); only with
        ``on_non_finite="record"``.
      steady_steps, steady_seconds: the steps and seconds of the chunks that did not
        compile (every chunk length's first call does): the steady-state speed.
      resumed_at: the steps a restored checkpoint had done already (0: none); this
        call trained the rest.
    """

    state: TrainState
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    step_metrics: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    bad_step: np.ndarray | None = None
    steady_steps: int = 0
    steady_seconds: float = 0.0
    resumed_at: int = 0

    @property
    def final(self) -> dict[str, Any]:
        """The last record's ``train_*`` and ``test_*`` metrics: what a summary reports."""
        return {k: v for k, v in self.metrics.items() if k.startswith(("train_", "test_"))}

    @property
    def steps_per_s(self) -> float | None:
        """Steady-state steps per second, or ``None`` when there was a single chunk."""
        return self.steady_steps / self.steady_seconds if self.steady_seconds > 0 else None


def train(
    state: TrainState,
    source: BatchSource,
    *,
    loss_fn: LossFn | None,
    num_epochs: int,
    num_steps: int | None = None,
    run: Run | None = None,
    evaluate: Callable[[TrainState], Mapping[str, Any]] | None = None,
    hooks: Sequence[Hook] = (),
    steps_per_dispatch: int = 0,
    accum_steps: int = 1,
    mesh: Mesh | None = None,
    vmapped: bool = False,
    unroll: int = 1,
    keep_step_metrics: bool = False,
    on_non_finite: str = "raise",
    progress: bool = True,
    desc: str | None = None,
    chunk_fn: ChunkFn | None = None,
    examples_per_step: int | None = None,
    epoch_offset: int = 0,
    checkpoint_every: int = 1,
    step_fn: StepFn | None = None,
    epoch_lines: bool = True,
    stage: str | None = None,
    tensor_rules: Sequence[tuple[str, Any]] | None = None,
) -> TrainResult:
    """Trains ``state`` on ``source`` for ``num_epochs`` epochs; the one training loop.

    Epoch ``e`` (from 1) runs steps ``[(e-1) * S, min(e * S, num_steps))`` with ``S =
    source.steps_per_epoch``, dispatched as compiled chunks of ``steps_per_dispatch``
    steps (0: the whole epoch in one call). After each epoch the driver evaluates
    (``evaluate(state)``, metrics prefixed ``test_``), runs the ``hooks`` (``hook(epoch,
    state)``; numbers returned join the record) and, with a ``run``, appends the
    record to ``metrics.jsonl``/TensorBoard, redraws ``curves.png`` and saves a
    checkpoint. A ``run`` opened with ``resume=True`` restores its newest checkpoint
    first and continues bit-identically.

    Args:
      state: the initial :class:`TrainState` (a stack of them when ``vmapped``).
      source: where batches come from (:mod:`jaxdl.training.sources`).
      loss_fn: ``loss_fn(model, batch, *, train, key) -> (loss, metrics)``.
      num_epochs: epochs to train in all (a resumed run counts the restored ones).
      num_steps: steps in all; defaults to ``num_epochs * source.steps_per_epoch``.
        A smaller value makes the last epoch partial.
      run: the :class:`~jaxdl.training.Run` that owns the workdir, or ``None``.
      evaluate: ``state -> {metric: value}`` after each epoch.
      hooks: more per-epoch work (samples, plots, probes).
      steps_per_dispatch: steps per compiled call; 0 is a whole epoch.
      accum_steps: micro-batches per step.
      mesh: places the state by :func:`jaxdl.parallel.state_shardings` (data parallel,
        FSDP, tensor parallel over a ``model`` axis) before training and after a
        restore. Use with :class:`HostFed` (or a source whose ``batch_sharding`` and
        data are placed on the mesh). With ``vmapped``, the stack of runs is split over
        the mesh's ``runs`` axis.
      vmapped: ``state`` is a stack of runs trained by one program.
      unroll: scan unroll (see :func:`make_chunk`).
      keep_step_metrics: keep every step's training metrics in the result.
      on_non_finite: ``"raise"`` a :class:`NonFiniteLossError` (the newest
        checkpoint is the last good epoch), or ``"record"`` the step and go on (the
        run's updates stop there; for sweeps).
      progress: show a progress bar.
      desc: the progress bar's label.
      chunk_fn: a prebuilt :func:`make_chunk` (to share its compilations).
      examples_per_step: the global batch, for ``train_examples_per_s``; defaults to
        ``source.batch_size`` where the source has one.
      epoch_offset: epochs of earlier stages of the same ``run`` (another source or
        loss): this call trains epochs ``epoch_offset + 1 .. epoch_offset +
        num_epochs`` and its steps continue from ``state.step``.
      checkpoint_every: checkpoint every this many epochs, and after the last.
      step_fn: a custom step instead of ``loss_fn``'s (see :func:`make_chunk`); the
        state may then be any pytree with a ``step`` counter.
      epoch_lines: print one line per epoch (losses, accuracies, speed) on process 0,
        whether or not the progress bar shows.
      stage: which checkpoints of ``run`` this call saves and resumes from (a run of
        several calls with states of different structure, e.g. a sweep's groups or two
        models, gives each its own); defaults to one per ``epoch_offset``.
      tensor_rules: the ``(regex, PartitionSpec)`` rules that split the state over a
        ``model`` mesh axis (:mod:`jaxdl.parallel.tensor`); ``None``: the transformer's.

    Returns:
      A :class:`TrainResult`.

    Raises:
      NonFiniteLossError: the loss or the parameters became NaN or infinite.
      ValueError: ``on_non_finite`` is neither ``"raise"`` nor ``"record"``; the number
        of runs is not a multiple of the mesh's ``runs`` axis size; a ``runs`` axis of
        size above 1 without ``vmapped``.
    """
    if on_non_finite not in ("raise", "record"):
        raise ValueError(f"on_non_finite is {on_non_finite!r}, expected 'raise' or 'record'.")
    per_epoch = source.steps_per_epoch
    total = num_epochs * per_epoch if num_steps is None else num_steps
    chunk_size = per_epoch if steps_per_dispatch <= 0 else min(steps_per_dispatch, per_epoch)
    chunk = chunk_fn or make_chunk(
        loss_fn,
        source,
        accum_steps=accum_steps,
        vmapped=vmapped,
        unroll=unroll,
        step_fn=step_fn,
        mesh=mesh,
    )
    shardings = None
    if mesh is not None:
        from jaxdl.parallel import place, runs_size, state_shardings

        if not vmapped and runs_size(mesh) > 1:
            raise ValueError(
                f"mesh has a runs axis of size {runs_size(mesh)}, expected none (or size 1) "
                "for a state that is not a vmapped stack of runs (vmapped=False)."
            )
        # Checks the runs split and, with a model axis, the heads' split.
        shardings = state_shardings(state, mesh, vmapped=vmapped, rules=tensor_rules)
        state = place(state, shardings)
        if progress and jax.process_index() == 0:
            report_memory(state, mesh)
    run = run if run is not None else Run(None)
    stage = ("" if epoch_offset == 0 else f"stage{epoch_offset}") if stage is None else stage
    saved, state = run.restore(state, shardings, stage=stage)
    start_epoch, skip, carried, bad = pg.position(saved, epoch_offset)
    batch_size = examples_per_step or getattr(source, "batch_size", None)
    compiled: set[int] = set()  # chunk lengths called so far: their first call compiles
    timed_steps, timed_s = 0, 0.0
    listen_to_compilations()
    resumed_at = min(start_epoch * per_epoch + skip, total)
    bar = progress_bar(total=total, initial=resumed_at, show=progress and run.is_main, desc=desc)
    since_save = 0  # steps since the last checkpoint
    finished = False
    try:
        for epoch in range(start_epoch + 1, num_epochs + 1):
            begin, end = (epoch - 1) * per_epoch, min(epoch * per_epoch, total)
            if begin >= end:
                break
            resumed_here = epoch == start_epoch + 1 and skip > 0  # a checkpoint mid-epoch
            first = begin + skip if resumed_here else begin
            tic = time.perf_counter()
            sums: dict[str, Any] = dict(carried) if resumed_here else {}
            # This epoch's chunks that compiled nothing, and its compilation time.
            steady_steps, steady_s, compile_s, compiled_here = 0, 0.0, 0.0, False
            for start in range(first, end, chunk_size):
                stop = min(start + chunk_size, end)
                t0, c0 = time.perf_counter(), compiling_s()
                inputs = source.inputs(epoch, start - begin, stop - begin)
                state, metrics, chunk_sums, bad_step = chunk(
                    state, source.data, inputs, stop - start
                )
                chunk_sums = jax.device_get(chunk_sums)
                bad = fold_bad_steps(
                    np.asarray(bad_step),
                    bad,
                    mode=on_non_finite,
                    epoch=epoch,
                    kept=run.kept_checkpoint,
                )
                # A chunk length's first call compiles; so does any call that JAX saw
                # trace or compile (a new input shape, a first eager operation).
                compiling = compiling_s() - c0
                if stop - start not in compiled or compiling > 0:
                    compiled.add(stop - start)
                    compile_s, compiled_here = compile_s + compiling, True
                else:
                    steady_steps += stop - start
                    steady_s += time.perf_counter() - t0
                if keep_step_metrics:
                    run.step_metrics.append(jax.device_get(metrics))
                for k, v in chunk_sums.items():
                    sums[k] = sums.get(k, 0.0) + as_float(v)
                bar.update(stop - start)
                done = stop - begin
                bar.set_postfix(epoch=epoch, **{k: short(v / done) for k, v in sums.items()})
                since_save += stop - start
                faults.event("chunk", stage, stop)
                if stop < end and run.checkpoint_due(since_save):
                    where = {"epoch": epoch_offset + epoch, "done": done, "complete": False}
                    run.save_progress(stop, state, where | pg.carry(sums, bad, state), stage=stage)
                    since_save = 0
            seconds = time.perf_counter() - tic
            timed_steps, timed_s = timed_steps + steady_steps, timed_s + steady_s
            record: dict[str, Any] = {"epoch": epoch_offset + epoch, "step": pg.state_step(state)}
            if stage:
                record["stage"] = stage
            # Records hold plain numbers: a vmapped stack of runs logs its mean.
            record |= {f"train_{k}": mean(v) / (end - begin) for k, v in sums.items()}
            if batch_size is not None:
                record["train_examples_per_s"] = examples_per_s(
                    batch_size, steady_steps, steady_s, end - first, seconds - compile_s
                )
            if compiled_here:
                record["compile_s"] = compile_s
            if mesh is not None:
                record["skipped_steps"] = sums.get("skipped", 0.0)
            if evaluate is not None:
                values = jax.device_get(evaluate(state))
                record |= {f"test_{k}": mean(v) for k, v in values.items()}
            for hook in hooks:
                record |= dict(hook(epoch_offset + epoch, state) or {})
            if epoch % checkpoint_every == 0 or end == total or run.checkpoint_due(since_save):
                where = {"epoch": epoch_offset + epoch, "done": end - begin, "complete": True}
                run.save_progress(end, state, where | pg.carry({}, bad, state), record, stage=stage)
                since_save = 0
            else:
                run.end_epoch(record)
            if epoch_lines and run.is_main:
                bar.write(epoch_line(record))
        finished = True
    finally:
        bar.close()
        if finished:
            run.wait()
        else:  # the error that stopped training wins over a checkpoint's failing too
            with contextlib.suppress(Exception):
                run.wait()
    # This call's records: a run of several stages holds the others' too.
    mine = pg.stage_records(run.history, stage, epoch_offset, num_epochs)
    return TrainResult(
        state=state,
        history=mine,
        metrics=mine[-1] if mine else {},
        step_metrics=pg.concat_steps(run.step_metrics),
        bad_step=bad,
        steady_steps=timed_steps,
        steady_seconds=timed_s,
        resumed_at=resumed_at,
    )
