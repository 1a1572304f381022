"""The run lifecycle: one workdir, its lock, checkpoints, logs, curves and summary.

Every recipe opens one :class:`Run` and trains through it, so locking, resume,
checkpoints, ``metrics.jsonl``/TensorBoard, ``curves.png``, timing and ``summary.json``
behave the same everywhere:

>>> import tempfile
>>> with Run(tempfile.mkdtemp(), recipe="demo", config={"lr": 0.1}) as run:
...     run.log({"step": 1, "train_loss": 0.5}, step=1)
...     summary = run.finish({"test_loss": 0.25})
>>> summary["metrics"]
{'test_loss': 0.25}

What a kill costs: every record in ``metrics.jsonl`` belongs to saved progress (the
checkpoint of an epoch is on disk before its record is written), and a resumed run cuts
the file back to its checkpoint, so records are neither lost nor doubled.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from etils import epath

from jaxdl.training import faults
from jaxdl.training import progress as pg
from jaxdl.training import workdir as wd
from jaxdl.training.checkpoint import Checkpointer
from jaxdl.training.logging import MetricsWriter, plain, plot_curves, write_summary


class Run:
    """A training run that owns ``workdir`` (or, with ``workdir=None``, writes nothing).

    Opening a run locks ``workdir`` (a second run into it is refused, a lock left by a
    dead process is taken over) and checks what it holds: nothing (a fresh run), this
    run (same recipe and config hash in ``run.json``: resumed from its newest
    checkpoint), or another run (refused unless ``overwrite``, which moves the other
    run aside and deletes it only once this run's first checkpoint is on disk, or puts
    it back if this run fails first). Only process 0 writes logs, curves and the
    summary; all processes write checkpoints together.

    Args:
      workdir: the output folder (a local path or a URI such as ``gs://bucket/run``),
        or ``None`` for a run that keeps nothing.
      recipe: the name written to ``run.json`` and ``summary.json``.
      config: the resolved config; its hash tells this run from another.
      resume: continue this run if ``workdir`` holds it; ``False`` refuses to open a
        workdir that holds it.
      overwrite: replace whatever run ``workdir`` holds.
      max_to_keep: checkpoints kept (the newest ones) per stage.
      tensorboard: also write TensorBoard event files (local workdirs).
      curves: draw ``curves.png`` from the history: after an epoch when the last drawing
        is ``curves_every_s`` seconds old, and when the run closes.
      x: the record field the curves are drawn against.
      curves_every_s: the least time between two drawings during training.
      checkpoints: keep checkpoints; ``False`` for runs that train nothing.
      checkpoint_every_steps: also checkpoint within an epoch every this many steps
        (0: only at the end of epochs).
      checkpoint_every_s: also checkpoint within an epoch when the last checkpoint is
        this many seconds old (0: off): the most work a kill may cost, plus one
        dispatch of steps.

    Raises:
      WorkdirBusyError: another live process holds the workdir.
      RunMismatchError: the workdir holds another run, or this one and ``resume`` is
        off.
      WorkdirError: the workdir cannot be created or written.
    """

    def __init__(
        self,
        workdir: str | os.PathLike | None,
        *,
        recipe: str | None = None,
        config: Mapping[str, Any] | None = None,
        resume: bool = True,
        overwrite: bool = False,
        max_to_keep: int = 3,
        tensorboard: bool = True,
        curves: bool = True,
        x: str = "epoch",
        curves_every_s: float = 30.0,
        checkpoints: bool = True,
        checkpoint_every_steps: int = 0,
        checkpoint_every_s: float = 0.0,
    ):
        if max_to_keep < 1:
            raise ValueError(f"max_to_keep is {max_to_keep}, expected >= 1.")
        if checkpoint_every_steps < 0 or checkpoint_every_s < 0:
            raise ValueError(
                f"checkpoint_every_steps and checkpoint_every_s are {checkpoint_every_steps} "
                f"and {checkpoint_every_s}, expected >= 0."
            )
        self.tic = time.perf_counter()
        self.workdir = None if workdir is None else wd.as_path(workdir)
        self.recipe, self.config = recipe, dict(config or {})
        self.is_main = jax.process_index() == 0
        self.curves, self.x, self.curves_every_s = curves, x, curves_every_s
        self.max_to_keep, self.keep_checkpoints = max_to_keep, checkpoints
        self.every_steps, self.every_s = checkpoint_every_steps, checkpoint_every_s
        self._drawn_at = self.tic  # when curves.png was last drawn (first: after curves_every_s)
        self._drawn_len = 0  # how many records it showed
        self._checkpointers: dict[str, Checkpointer] = {}
        self._restored: dict[str, tuple[dict[str, Any] | None, Any]] = {}
        self._saved_at = time.monotonic()
        self._replaced = False  # an older run waits in .previous until the first checkpoint
        self._seq = 0  # records logged so far in this run (replayed ones too)
        self._on_disk = 0  # records metrics.jsonl holds from before this process
        self.writer: MetricsWriter | None = None
        # Every record of this run so far (restored ones too): several train calls in
        # one run (stages) extend the same history.
        self.history: list[dict[str, Any]] = []
        self.step_metrics: list[dict[str, np.ndarray]] = []
        self.resume = False
        self.lock: wd.WorkdirLock | None = None
        if self.workdir is None:
            return
        try:
            self._open(resume, overwrite, tensorboard)
        except BaseException:
            # Whatever _open got to (the log files, an older run moved aside, the lock)
            # is undone as after a failed run.
            self.close(failed=True)
            raise

    # -- opening -------------------------------------------------------------------

    def _open(self, resume: bool, overwrite: bool, tensorboard: bool) -> None:
        workdir = self.workdir
        if self.is_main:
            self.lock, self.resume, self._replaced = wd.claim(
                workdir, self.recipe, self.config, resume=resume, overwrite=overwrite
            )
        if jax.process_count() > 1:  # nobody opens the folder before process 0 decided
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("jaxdl.Run.workdir")
            if not self.is_main:
                self.resume = wd.has_checkpoint(workdir)
        if self.is_main:
            purge_step, keep = None, None
            if self.resume:  # cut the logs back to the newest checkpoint
                newest = pg.newest_progress(workdir) or {}
                keep, purge_step = newest.get("records", 0), newest.get("step", -1) + 1
            with wd.writing(workdir):
                self.writer = MetricsWriter(
                    workdir,
                    tensorboard=tensorboard and wd.is_local(workdir),
                    keep=keep,
                    purge_step=purge_step,
                )
                self.history = self.writer.history()
            self._on_disk = len(self.history)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.close(failed=exc_type is not None)

    # -- files -----------------------------------------------------------------------

    @property
    def checkpointer(self) -> Checkpointer | None:
        """The checkpointer of the run's main stage (``None`` without checkpoints)."""
        return self.checkpointer_for("") if self._can_checkpoint else None

    @property
    def _can_checkpoint(self) -> bool:
        return self.workdir is not None and self.keep_checkpoints

    def checkpointer_for(self, stage: str) -> Checkpointer:
        """The checkpointer of ``stage`` (``""``: ``checkpoints/``; else
        ``checkpoints-<stage>/``), opened on first use."""
        if stage not in self._checkpointers:
            folder = self.workdir / f"checkpoints{pg.stage_suffix(stage)}"
            with wd.writing(folder):
                self._checkpointers[stage] = Checkpointer(folder, max_to_keep=self.max_to_keep)
        return self._checkpointers[stage]

    def path(self, name: str) -> epath.Path | None:
        """``workdir / name`` for files process 0 writes; ``None`` elsewhere or without
        a workdir, so callers write nothing."""
        return self.workdir / name if self.workdir is not None and self.is_main else None

    # -- resume ----------------------------------------------------------------------

    def restore(
        self, state: Any, shardings: Any = None, *, stage: str = ""
    ) -> tuple[dict[str, Any] | None, Any]:
        """``(progress, state)`` to continue ``stage`` from.

        The first call for a stage of a resumed run restores that stage's newest
        readable checkpoint into the structure of ``state`` (placed by ``shardings``)
        and reloads its per-step metrics; ``progress`` is the record saved with it
        (``epoch``, ``done`` steps of it, ``complete``, ``sums``, ``bad``, ``step``,
        ``records``). Without a checkpoint: ``(None, state)``; later calls return the
        first call's answer with ``state`` unchanged.
        """
        if stage in self._restored:
            return self._restored[stage][0], state
        progress = None
        self.step_metrics = []  # a new stage keeps its own
        if self.resume and self._can_checkpoint:
            ckpt = self.checkpointer_for(stage)
            newest = ckpt.latest_step()
            if newest is not None:
                key, state = ckpt.restore(state, shardings=shardings)
                faults.event("restore", stage, key)
                progress = ckpt.meta(key) or {"epoch": key, "complete": True}
                self._resume_records(progress, fell_back=key != newest)
                self.step_metrics = pg.read_step_metrics(self.workdir, stage, pg.state_step(state))
        self._restored[stage] = (progress, None)
        return progress, state

    def _resume_records(self, progress: Mapping[str, Any], *, fell_back: bool) -> None:
        """Lines ``metrics.jsonl`` up with a restored checkpoint.

        Opening the run cut the file back to the newest checkpoint of all stages. Here,
        a fall-back to an older checkpoint (the newest was unreadable) cuts it further,
        and the record of a checkpoint whose process was killed before writing it is
        written now. The records logged next, up to what the file holds, are replays.
        """
        records = progress.get("records")
        if records is None:
            return
        if self.writer is not None:
            lines = len(self.history)
            if fell_back and lines > records:
                self.writer.keep_first(records)
                self.history = self.history[:records]
            elif lines == records - 1 and progress.get("record"):
                self.writer.write(progress["record"], step=int(progress.get("step", 0)))
                self.history.append(dict(progress["record"]))
            self._on_disk = len(self.history)
        self._seq = records

    # -- progress --------------------------------------------------------------------

    def checkpoint_due(self, steps_since: int) -> bool:
        """Whether a checkpoint within an epoch is due after ``steps_since`` steps."""
        if not self._can_checkpoint:
            return False
        if self.every_steps and steps_since >= self.every_steps:
            return True
        return bool(self.every_s) and time.monotonic() - self._saved_at >= self.every_s

    def save_progress(
        self,
        key: int,
        state: Any,
        progress: Mapping[str, Any],
        record: Mapping[str, Any] | None = None,
        *,
        stage: str = "",
    ) -> None:
        """Checkpoints ``state`` as ``key`` of ``stage`` with ``progress``, then logs
        ``record`` (the epoch's record, if it ended): the record is written only once
        the checkpoint that holds its progress is on disk.

        Raises:
          WorkdirError: the checkpoint could not be written; nothing was logged.
        """
        if record is not None:
            record = {k: plain(v) for k, v in record.items()}
        if self._can_checkpoint:
            meta = dict(progress, records=self._seq + (record is not None), record=record)
            if self.step_metrics and self.is_main:
                pg.write_step_metrics(self.workdir, stage, self.step_metrics)
            try:
                self.checkpointer_for(stage).save(key, state, meta)
            except wd.WorkdirError as e:
                raise wd.WorkdirError(f"{str(e).rstrip('.')}; {self.kept_checkpoint()}.") from e
            self._saved_at = time.monotonic()
            if self._replaced and self.is_main:
                wd.drop_previous(self.workdir)
                self._replaced = False
        if record is not None:
            self.log(record, step=int(record.get("step", key)), history=True)
            self._redraw_if_due()

    def end_epoch(self, record: Mapping[str, Any]) -> None:
        """Adds an epoch's ``record`` to the history and logs it, without a checkpoint
        (:meth:`save_progress` checkpoints and logs)."""
        self.log(record, step=int(record.get("step", record.get("epoch", 0))), history=True)
        self._redraw_if_due()

    def _redraw_if_due(self) -> None:
        if time.perf_counter() - self._drawn_at >= self.curves_every_s:
            self.draw_curves()

    def draw_curves(self) -> None:
        """Draws ``curves.png`` from the history, unless it already shows all of it."""
        if not self.curves or self.path("curves.png") is None:
            return
        if self._drawn_len != len(self.history):
            with wd.writing(self.path("curves.png")):
                plot_curves(self.history, self.path("curves.png"), x=self.x)
            self._drawn_len = len(self.history)
        self._drawn_at = time.perf_counter()

    def log(self, record: Mapping[str, Any], *, step: int, history: bool = False) -> None:
        """Appends ``record`` to ``metrics.jsonl`` and TensorBoard (process 0 only) and,
        with ``history``, to :attr:`history`.

        A resumed run that logs again what the earlier process logged before its
        checkpoint (work done before training) skips those records instead of doubling
        them: they are on disk and in the history already.
        """
        self._seq += 1
        if self._seq <= self._on_disk:
            return
        if history:
            self.history.append({k: plain(v) for k, v in record.items()})
        if self.writer is not None:
            with wd.writing(self.writer.path):
                self.writer.write(record, step=step)

    def kept_checkpoint(self) -> str:
        """A clause saying which checkpoint a failed run leaves behind."""
        if not self._can_checkpoint:
            return "no checkpoint is kept because there is no workdir"
        self.wait()
        return pg.describe_kept(ckpt.directory for ckpt in self._checkpointers.values())

    def wait(self) -> None:
        """Blocks until started checkpoints are on disk."""
        for ckpt in self._checkpointers.values():
            ckpt.wait()

    def elapsed(self) -> float:
        """Seconds since the run was opened."""
        return time.perf_counter() - self.tic

    def finish(self, metrics: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        """Writes ``summary.json`` (final metrics, config, wall time, versions, ``extra``)
        and returns ``{"metrics", "wall_time_s", **extra}``."""
        metrics = dict(metrics)
        self.draw_curves()
        wall = self.elapsed()
        if self.path("summary.json") is not None:
            with wd.writing(self.path("summary.json")):
                write_summary(
                    self.workdir,
                    metrics=metrics,
                    config=self.config,
                    wall_time_s=wall,
                    recipe=self.recipe,
                    **extra,
                )
        return {"metrics": metrics, "wall_time_s": wall, **extra}

    def close(self, *, failed: bool = False) -> None:
        """Draws the final curves, closes checkpointers and log files and releases the
        workdir, trying every step even when one fails (the first error is raised after,
        unless the run ``failed``). A run that ``failed`` before its first checkpoint
        puts back the older run it was replacing.
        """
        # After a failure, cleaning up must not bury the error that ended the run, so
        # its own errors are dropped; otherwise the first one is raised at the end.
        errors: list[Exception] = []

        def attempt(step: Any) -> None:
            try:
                step()
            except Exception as e:
                errors.append(e)

        try:
            if not failed:
                attempt(self.draw_curves)
            checkpointers, self._checkpointers = self._checkpointers, {}
            for ckpt in checkpointers.values():
                attempt(ckpt.close)
            if self.writer is not None:
                writer, self.writer = self.writer, None
                attempt(writer.close)
            if self._replaced and self.is_main:
                if failed or not errors:  # else unsure: the older run stays in .previous
                    wd.settle_overwrite(self.workdir, failed=failed)
                self._replaced = False
        finally:
            self._release()
        if errors and not failed:
            raise errors[0]

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None
