"""``fit``: supervised training on a dataset, the engine's most common entry point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
from jax.sharding import Mesh

from jaxdl.parallel import (
    check_batch_size,
    local_batch_size,
    replicate,
)
from jaxdl.training.engine import Hook, TrainResult, train
from jaxdl.training.evaluation import make_evaluator
from jaxdl.training.run import Run
from jaxdl.training.sources import BatchSource, Data, HostFed, Permuted
from jaxdl.training.state import TrainState
from jaxdl.training.step import EvalFn, LossFn

# The name fit's result had before the engine; the same class.
FitResult = TrainResult


def fit(
    state: TrainState,
    train_data: Data | BatchSource,
    eval_data: Data | None = None,
    *,
    loss_fn: LossFn,
    eval_fn: EvalFn | None = None,
    num_epochs: int,
    batch_size: int,
    data_key: jax.Array | None = None,
    eval_batch_size: int = 1000,
    steps_per_dispatch: int = 0,
    workdir: str | Path | None = None,
    resume: bool = True,
    overwrite: bool = False,
    max_to_keep: int = 3,
    run: Run | None = None,
    progress: bool = True,
    mesh: Mesh | None = None,
    accum_steps: int = 1,
    hooks: Sequence[Hook] = (),
    tensor_rules: Sequence[tuple[str, Any]] | None = None,
) -> TrainResult:
    """Trains ``state`` for ``num_epochs`` over ``train_data``: supervised training on a
    dataset in the engine (:func:`jaxdl.training.train` over a :class:`Permuted` or,
    with a ``mesh``, a :class:`HostFed` source).

    Each epoch draws a permutation from ``fold_in(data_key, epoch)`` and runs its
    ``len // batch_size`` steps as ``lax.scan`` chunks of ``steps_per_dispatch`` steps
    (0: the whole epoch in one call). After each epoch ``eval_fn`` is averaged over
    ``eval_data`` (``test_*`` metrics) and the ``hooks`` run.

    With a ``run`` (or a ``workdir``, for which ``fit`` opens one with ``resume`` and
    ``max_to_keep``) every epoch appends to ``metrics.jsonl`` and TensorBoard, saves a
    checkpoint and redraws ``curves.png``; a resumed run continues bit-identically.

    With a ``mesh`` (:func:`jaxdl.parallel.make_mesh`) the state is placed by
    :func:`jaxdl.parallel.state_shardings` (replicated, FSDP-sharded over an ``fsdp``
    axis, the transformer blocks split Megatron-style over a ``model`` axis) and every
    batch is split over the mesh's batch axes. In a multi-process run ``train_data`` is
    this process's share (:func:`jaxdl.parallel.process_share`) and ``batch_size`` the
    global batch; ``eval_data`` is the whole evaluation set on every process. The batches do not
    depend on the mesh, so 1 and 8 devices train the same model.

    ``train_data`` may instead be a ready batch source, such as
    :class:`jaxdl.data.streaming.Streamed` for data streamed from disk: it brings its own
    order and its own feeding of the mesh, and ``data_key`` is not used. Taking a source
    rather than a grain dataset keeps ``fit`` (and the engine) free of any one input
    library: whatever implements :class:`~jaxdl.training.sources.BatchSource` trains.

    Args:
      state: the initial :class:`TrainState`.
      train_data: ``{name: (n, ...)}`` arrays, or a
        :class:`~jaxdl.training.sources.BatchSource` (which has ``inputs``).
      eval_data: arrays evaluated after every epoch, or ``None``.
      loss_fn: ``loss_fn(model, batch, *, train, key) -> (loss, metrics)``.
      eval_fn: ``eval_fn(model, batch, where) -> per-batch sums``.
      num_epochs: epochs in all.
      batch_size: the global batch.
      data_key: the key of the per-epoch permutations (arrays only).
      eval_batch_size: evaluation batch.
      steps_per_dispatch: steps per compiled call (0: an epoch).
      workdir, resume, overwrite, max_to_keep: open a :class:`Run` here when ``run``
        is ``None`` (see :class:`Run`).
      run: the :class:`Run` that owns the workdir.
      progress: show a progress bar.
      mesh: see above.
      accum_steps: micro-batches per step (:func:`jaxdl.training.step.train_step`).
      hooks: ``hook(epoch, state) -> {name: number}`` after each evaluation.
      tensor_rules: how a ``model`` mesh axis splits the state (see :func:`train`).

    Returns:
      A :class:`TrainResult`.

    Raises:
      NonFiniteLossError: when the loss or parameters become NaN/Inf; the newest
        checkpoint on disk is then the last good epoch.
      ValueError: the batch does not fit the data, the processes or the mesh, or
        arrays come without ``data_key``.
    """
    is_source = hasattr(train_data, "inputs")
    if not is_source and data_key is None:
        raise ValueError("data_key is None, expected a key when train_data are arrays.")
    if mesh is None:
        source = train_data if is_source else Permuted(train_data, batch_size, data_key)
    else:
        local = _check_mesh(mesh, batch_size, accum_steps)
        source = train_data if is_source else HostFed(train_data, local, data_key, mesh)
        if eval_data is not None:
            eval_data = replicate(eval_data, mesh)
    evaluate = None
    if eval_data is not None:
        evaluator = make_evaluator(eval_fn, eval_batch_size)
        evaluate = lambda s: evaluator(s, eval_data)  # noqa: E731
    own_run = run is None and workdir is not None
    if own_run:
        run = Run(workdir, resume=resume, overwrite=overwrite, max_to_keep=max_to_keep)
    failed = True
    try:
        result = train(
            state,
            source,
            loss_fn=loss_fn,
            num_epochs=num_epochs,
            run=run,
            evaluate=evaluate,
            hooks=hooks,
            steps_per_dispatch=steps_per_dispatch,
            accum_steps=accum_steps,
            mesh=mesh,
            progress=progress,
            examples_per_step=batch_size,
            tensor_rules=tensor_rules,
        )
        failed = False
        return result
    finally:
        if own_run:
            run.close(failed=failed)


def _check_mesh(mesh: Mesh, batch_size: int, accum_steps: int) -> int:
    """This process's part of each batch, after checking that the batch splits evenly."""
    check_batch_size(batch_size, mesh)
    if accum_steps > 1:
        check_batch_size(batch_size // accum_steps, mesh, name="batch_size / accum_steps")
        if batch_size % accum_steps:
            raise ValueError(
                f"batch_size is {batch_size}, expected a multiple of accum_steps={accum_steps}."
            )
    return local_batch_size(batch_size)
