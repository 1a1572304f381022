"""The epoch loop: compiled chunks of steps, evaluation, logging, checkpoints, NaN guard."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from tqdm.auto import tqdm

from jaxdl.errors import ConfigError, NonFiniteLossError
from jaxdl.parallel import (
    batch_sharding,
    bytes_per_device,
    check_batch_size,
    global_batches,
    local_batch_size,
    place,
    replicate,
    state_shardings,
    total_bytes,
)
from jaxdl.training.checkpoint import Checkpointer
from jaxdl.training.epoch import (
    Data,
    epoch_order,
    make_evaluator,
    make_fed_train_chunk,
    make_train_chunk,
    num_examples,
)
from jaxdl.training.logging import MetricsWriter, plot_curves
from jaxdl.training.state import TrainState
from jaxdl.training.step import EvalFn, LossFn


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: the final state, one record per epoch, the last record."""

    state: TrainState
    history: list[dict[str, Any]]
    metrics: dict[str, Any]


def fit(
    state: TrainState,
    train_data: Data,
    eval_data: Data | None = None,
    *,
    loss_fn: LossFn,
    eval_fn: EvalFn | None = None,
    num_epochs: int,
    batch_size: int,
    data_key: jax.Array,
    eval_batch_size: int = 1000,
    steps_per_dispatch: int = 0,
    workdir: str | Path | None = None,
    resume: bool = False,
    max_to_keep: int = 3,
    progress: bool = True,
    mesh: Mesh | None = None,
    accum_steps: int = 1,
    on_epoch: Callable[[int, TrainState], Mapping[str, Any] | None] | None = None,
) -> FitResult:
    """Trains ``state`` for ``num_epochs`` over ``train_data`` kept on the device.

    Each epoch draws a permutation from ``fold_in(data_key, epoch)`` and runs its
    ``len // batch_size`` steps as ``lax.scan`` chunks of ``steps_per_dispatch`` steps
    (0: the whole epoch in one call). Between chunks the progress bar shows the running
    loss and accuracy.

    With a ``workdir`` every epoch appends to ``metrics.jsonl`` and TensorBoard, saves a
    checkpoint (keeping ``max_to_keep``) and redraws ``curves.png``. ``resume=True``
    restores the newest checkpoint there and continues bit-identically; ``resume=False``
    starts over, removing that workdir's previous checkpoints and metrics.

    With a ``mesh`` (:func:`jaxdl.parallel.make_mesh`) the state is placed by
    :func:`jaxdl.parallel.state_shardings` (replicated, or FSDP-sharded when the mesh
    has an ``fsdp`` axis) and every batch is split over the mesh's batch axes. The
    batches are then cut on the host and fed in chunks, so in a multi-process run
    ``train_data`` is this process's share (:func:`jaxdl.parallel.process_share`) and
    ``batch_size`` the global batch; ``eval_data`` is the whole evaluation set on every
    process. Only process 0 writes logs and plots; all write the checkpoint together.
    The batches do not depend on the mesh, so 1 and 8 devices train the same model.

    ``accum_steps`` splits each batch into micro-batches whose gradients are averaged
    (:func:`jaxdl.training.step.train_step`).

    ``on_epoch(epoch, state)`` runs after each epoch's evaluation (e.g. to draw samples);
    the numbers it returns join that epoch's record.

    Raises:
      NonFiniteLossError: when the loss or parameters become NaN/Inf; the newest
        checkpoint on disk is then the last good epoch.
    """
    n = num_examples(train_data)
    local_batch = batch_size if mesh is None else _check_mesh(mesh, batch_size, accum_steps)
    steps = epoch_order(data_key, n, local_batch).shape[0]  # validates batch_size too
    chunk = steps if steps_per_dispatch <= 0 else min(steps_per_dispatch, steps)
    main = jax.process_index() == 0
    if mesh is None:
        run_chunk = make_train_chunk(loss_fn, accum_steps=accum_steps)
    else:
        shardings = state_shardings(state, mesh)
        state = place(state, shardings)
        if main and progress:
            per_device = max(bytes_per_device(state).values())
            tqdm.write(
                f"mesh {dict(mesh.shape)}: the train state takes {per_device / 2**20:.2f} MiB "
                f"per device of {total_bytes(state) / 2**20:.2f} MiB in all"
            )
        fed = make_fed_train_chunk(
            loss_fn, accum_steps=accum_steps, batch_sharding=batch_sharding(mesh)
        )
        host_data = {k: np.asarray(v) for k, v in train_data.items()}

        def run_chunk(state, _, order):
            local = {k: v[np.asarray(order)] for k, v in host_data.items()}
            return fed(state, global_batches(local, mesh))

        if eval_data is not None:
            eval_data = replicate(eval_data, mesh)
    evaluate = make_evaluator(eval_fn, eval_batch_size) if eval_data is not None else None

    ckpt = writer = None
    start_epoch = 0
    if workdir is not None:
        workdir = Path(workdir)
        if not resume and main:
            clear_run(workdir)
        if jax.process_count() > 1:  # nobody opens the folder before process 0 cleared it
            multihost_utils.sync_global_devices("jaxdl.fit.workdir")
        ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=max_to_keep)
        writer = MetricsWriter(workdir) if main else None
        if resume and ckpt.latest_epoch() is not None:
            start_epoch, state = ckpt.restore(state)
            if mesh is not None:
                state = place(state, shardings)
            if writer is not None:
                writer.truncate_after(start_epoch)
    history = writer.history() if writer else []

    bar = tqdm(
        total=num_epochs * steps,
        initial=start_epoch * steps,
        unit="step",
        disable=not (progress and main),
        dynamic_ncols=True,
    )
    try:
        for epoch in range(start_epoch + 1, num_epochs + 1):
            order = epoch_order(jax.random.fold_in(data_key, epoch), n, local_batch)
            tic = time.perf_counter()
            totals: dict[str, float] = {}
            for start in range(0, steps, chunk):
                state, sums, bad_step = run_chunk(state, train_data, order[start : start + chunk])
                done = min(start + chunk, steps)
                sums = jax.device_get(sums)
                totals = {k: totals.get(k, 0.0) + float(v) for k, v in sums.items()}
                if int(bad_step) >= 0:
                    _raise_non_finite(int(bad_step), epoch, ckpt)
                bar.update(done - start)
                bar.set_postfix(epoch=epoch, **{k: f"{v / done:.4f}" for k, v in totals.items()})
            train_time = time.perf_counter() - tic
            record: dict[str, Any] = {"epoch": epoch, "step": int(state.step)}
            record |= {f"train_{k}": v / steps for k, v in totals.items()}
            record["train_examples_per_s"] = steps * batch_size / train_time
            if mesh is not None:
                record["skipped_steps"] = totals.get("skipped", 0.0)
            if evaluate is not None:
                metrics = jax.device_get(evaluate(state, eval_data))
                record |= {f"test_{k}": float(v) for k, v in metrics.items()}
            if on_epoch is not None:
                record |= dict(on_epoch(epoch, state) or {})
            history.append(record)
            if ckpt is not None:
                ckpt.save(epoch, state)
            if writer is not None:
                writer.write(record, step=record["step"])
                plot_curves(history, workdir / "curves.png")
            if main:
                bar.write(_epoch_line(record))
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
        if writer is not None:
            writer.close()
    return FitResult(state=state, history=history, metrics=history[-1] if history else {})


def fit_options(config: Any) -> dict[str, Any]:
    """The :func:`fit` arguments a recipe config names the same way in every recipe.

    ``fit(state, train, test, loss_fn=..., data_key=..., workdir=..., mesh=...,
    **fit_options(config))``; configs without ``accum_steps`` train on whole batches.
    """
    return {
        "num_epochs": config.num_epochs,
        "batch_size": config.batch_size,
        "eval_batch_size": config.eval_batch_size,
        "steps_per_dispatch": config.steps_per_dispatch,
        "resume": config.resume,
        "max_to_keep": config.max_to_keep,
        "progress": config.progress,
        "accum_steps": config.get("accum_steps", 1),
    }


def _check_mesh(mesh: Mesh, batch_size: int, accum_steps: int) -> int:
    """This process's part of each batch, after checking that the batch splits evenly."""
    check_batch_size(batch_size, mesh)
    if accum_steps > 1:
        check_batch_size(batch_size // accum_steps, mesh, name="batch_size / accum_steps")
        if batch_size % accum_steps:
            raise ConfigError(
                f"batch_size is {batch_size}, expected a multiple of accum_steps={accum_steps}."
            )
    return local_batch_size(batch_size)


def clear_run(workdir: str | Path) -> None:
    """Removes what an earlier run left in ``workdir``: checkpoints, TensorBoard, metrics."""
    workdir = Path(workdir)
    for name in ("checkpoints", "tensorboard"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    (workdir / "metrics.jsonl").unlink(missing_ok=True)


def _raise_non_finite(step: int, epoch: int, ckpt: Checkpointer | None) -> None:
    if ckpt is None:
        kept = "no checkpoint is kept because there is no workdir"
    else:
        ckpt.wait()
        last = ckpt.latest_epoch()
        kept = (
            f"the last good checkpoint (epoch {last}) is kept in {ckpt.directory}"
            if last is not None
            else "no epoch had finished, so there is no checkpoint"
        )
    raise NonFiniteLossError(
        f"Training stopped at step {step} (epoch {epoch}) because the loss or the parameters "
        f"became NaN or infinite; {kept}. Lower the learning rate or check the inputs."
    )


def _epoch_line(record: dict[str, Any]) -> str:
    parts = [f"epoch {record['epoch']:3d}"]
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        if key in record:
            parts.append(f"{key} {record[key]:.4f}")
    parts.append(f"{record['train_examples_per_s']:.0f} examples/s")
    return " | ".join(parts)
