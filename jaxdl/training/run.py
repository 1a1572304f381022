"""The run lifecycle: one workdir, its checkpoints, logs, curves and summary.

Every recipe opens one :class:`Run` and trains through it, so resume, checkpoints,
``metrics.jsonl``/TensorBoard, ``curves.png``, timing and ``summary.json`` behave the
same everywhere:

>>> import tempfile
>>> with Run(tempfile.mkdtemp(), recipe="demo", config={"lr": 0.1}) as run:
...     run.log({"step": 1, "train_loss": 0.5}, step=1)
...     summary = run.finish({"test_loss": 0.25})
>>> summary["metrics"]
{'test_loss': 0.25}
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxdl.training.checkpoint import Checkpointer
from jaxdl.training.logging import MetricsWriter, plot_curves, write_summary
from jaxdl.training.state import TrainState

STEP_METRICS = "step_metrics.npz"


def clear_run(workdir: str | os.PathLike) -> None:
    """Removes what an earlier run left in ``workdir``: checkpoints, TensorBoard,
    ``metrics.jsonl`` and the per-step metrics.

    Missing entries are skipped; other files in ``workdir`` (e.g. ``summary.json``) stay.

    Args:
      workdir: the run's output folder.

    Returns:
      None; the folders ``checkpoints/`` and ``tensorboard/`` and the files
      ``metrics.jsonl`` and ``step_metrics.npz`` under ``workdir`` are gone.
    """
    workdir = Path(workdir)
    for name in ("checkpoints", "tensorboard"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    for name in ("metrics.jsonl", STEP_METRICS):
        (workdir / name).unlink(missing_ok=True)


def concat_steps(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-step metrics of consecutive chunks joined along the step (last) axis."""
    if not parts:
        return {}
    return {k: np.concatenate([np.asarray(p[k]) for p in parts], axis=-1) for k in parts[0]}


class Run:
    """A training run that owns ``workdir`` (or, with ``workdir=None``, writes nothing).

    Opening a run creates ``workdir``; without ``resume`` it first removes an earlier
    run's checkpoints and logs there. Only process 0 writes logs, curves and the
    summary; all processes write checkpoints together.

    Args:
      workdir: the output folder, or ``None`` for a run that keeps nothing.
      recipe: the name written to ``summary.json``.
      config: the resolved config, written to ``summary.json``.
      resume: continue from the newest checkpoint in ``workdir``, if any.
      max_to_keep: checkpoints kept (the newest ones).
      tensorboard: also write TensorBoard event files.
      curves: draw ``curves.png`` from the history: after an epoch when the last drawing
        is ``curves_every_s`` seconds old, and when the run closes.
      x: the record field the curves are drawn against.
      curves_every_s: the least time between two drawings during training (drawing
        takes a fraction of a second, too much after every short epoch).
      checkpoints: keep checkpoints; ``False`` for runs that train nothing (solver
        comparisons, explanations of a pretrained model).
    """

    def __init__(
        self,
        workdir: str | os.PathLike | None,
        *,
        recipe: str | None = None,
        config: Mapping[str, Any] | None = None,
        resume: bool = False,
        max_to_keep: int = 3,
        tensorboard: bool = True,
        curves: bool = True,
        x: str = "epoch",
        curves_every_s: float = 30.0,
        checkpoints: bool = True,
    ):
        self.tic = time.perf_counter()
        self.workdir = None if workdir is None else Path(workdir)
        self.recipe, self.config, self.resume = recipe, dict(config or {}), resume
        self.is_main = jax.process_index() == 0
        self.curves, self.x, self.curves_every_s = curves, x, curves_every_s
        self._drawn_at = self.tic  # when curves.png was last drawn (first: after curves_every_s)
        self._drawn_len = 0  # how many records it showed
        self.checkpointer: Checkpointer | None = None
        self.writer: MetricsWriter | None = None
        # Every record of this run so far (restored ones too): several train calls in
        # one run (stages) extend the same history.
        self.history: list[dict[str, Any]] = []
        self.step_metrics: list[dict[str, np.ndarray]] = []
        self.restored_epoch: int | None = None
        if self.workdir is None:
            return
        if self.is_main:
            self.workdir.mkdir(parents=True, exist_ok=True)
            if not resume:
                clear_run(self.workdir)
        if jax.process_count() > 1:  # nobody opens the folder before process 0 cleared it
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("jaxdl.Run.workdir")
        if checkpoints:
            self.checkpointer = Checkpointer(self.workdir / "checkpoints", max_to_keep=max_to_keep)
        if self.is_main:
            self.writer = MetricsWriter(self.workdir, tensorboard=tensorboard)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def path(self, name: str) -> Path | None:
        """``workdir / name`` for files process 0 writes; ``None`` elsewhere or without
        a workdir, so callers write nothing."""
        return self.workdir / name if self.workdir is not None and self.is_main else None

    def resume_into(self, state: TrainState, shardings: Any = None) -> tuple[int, TrainState]:
        """``(epoch, state)`` to continue from.

        The first call of a run opened with ``resume`` restores the newest checkpoint
        (if any) into the structure of ``state``, placed by ``shardings``, and reloads
        the history and per-step metrics up to it; later calls (the next stage of the
        same run) return the restored epoch and ``state`` unchanged. Without a
        checkpoint: ``(0, state)``.
        """
        if self.restored_epoch is not None:
            return self.restored_epoch, state
        self.restored_epoch = 0
        ckpt = self.checkpointer
        if not (self.resume and ckpt is not None and ckpt.latest_epoch() is not None):
            return 0, state
        epoch, state = ckpt.restore(state)
        if shardings is not None:
            from jaxdl.parallel import place

            state = place(state, shardings)
        self.restored_epoch = epoch
        if self.writer is not None:
            self.writer.truncate_after(epoch)
            self.history = self.writer.history()
        saved = self.workdir / STEP_METRICS
        if saved.exists():
            steps = int(np.max(jax.device_get(state.step)))
            with np.load(saved) as f:
                self.step_metrics = [{k: f[k][..., :steps] for k in f.files}]
        return epoch, state

    def end_epoch(
        self, epoch: int, state: TrainState, record: Mapping[str, Any], *, save: bool = True
    ) -> None:
        """Adds ``record`` to the history, logs it, redraws the curves and, with
        ``save``, checkpoints ``state`` as ``epoch`` (with the per-step metrics so far)."""
        self.history.append(dict(record))
        if save and self.checkpointer is not None:
            self.checkpointer.save(epoch, state)
        if self.step_metrics and self.path(STEP_METRICS) is not None:
            np.savez(self.path(STEP_METRICS), **concat_steps(self.step_metrics))
        self.log(record, step=int(record.get("step", epoch)))
        if time.perf_counter() - self._drawn_at >= self.curves_every_s:
            self.draw_curves()

    def draw_curves(self) -> None:
        """Draws ``curves.png`` from the history, unless it already shows all of it."""
        if not self.curves or self.path("curves.png") is None:
            return
        if self._drawn_len != len(self.history):
            plot_curves(self.history, self.path("curves.png"), x=self.x)
            self._drawn_len = len(self.history)
        self._drawn_at = time.perf_counter()

    def log(self, record: Mapping[str, Any], *, step: int) -> None:
        """Appends ``record`` to ``metrics.jsonl`` and TensorBoard (process 0 only)."""
        if self.writer is not None:
            self.writer.write(record, step=step)

    def save(self, epoch: int, state: Any) -> None:
        """Checkpoints ``state`` as ``epoch`` (for runs that do not go through ``train``)."""
        if self.checkpointer is not None:
            self.checkpointer.save(epoch, state)

    def kept_checkpoint(self) -> str:
        """A clause saying which checkpoint a failed run leaves behind."""
        if self.checkpointer is None:
            return "no checkpoint is kept because there is no workdir"
        self.checkpointer.wait()
        last = self.checkpointer.latest_epoch()
        if last is None:
            return "no epoch had finished, so there is no checkpoint"
        return f"the last good checkpoint (epoch {last}) is kept in {self.checkpointer.directory}"

    def wait(self) -> None:
        """Blocks until started checkpoints are on disk."""
        if self.checkpointer is not None:
            self.checkpointer.wait()

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
            write_summary(
                self.workdir,
                metrics=metrics,
                config=self.config,
                wall_time_s=wall,
                recipe=self.recipe,
                **extra,
            )
        return {"metrics": metrics, "wall_time_s": wall, **extra}

    def close(self) -> None:
        """Draws the final curves, waits for checkpoints and closes the log files."""
        self.draw_curves()
        if self.checkpointer is not None:
            self.checkpointer.close()
            self.checkpointer = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None
