"""makemore (seed 002): character-level language models of names, one run or a sweep.

The config becomes a :class:`~jaxdl.charlm.CharLMRun` (a sweep: a grid of them, or
explicit ``config.rows`` crossed with the grid) in one build step. Every run trains
through :func:`jaxdl.training.train` over a :class:`~jaxdl.training.Sampled` source,
``chunk_steps`` steps per epoch (one compiled chunk, one log line, one checkpoint); a
sweep trains each group of runs with equal shapes as one vmapped program
(``config.sweep_vmap=False``: every run alone, to time the difference) and writes
``sweep.md`` / ``sweep.csv``: the swept fields and train/dev/test loss of every run.

``--config.mesh=runs=8`` splits each group of a sweep over 8 devices (every group's
size a multiple of the ``runs`` size), equal to one device's up to float rounding;
``--config.mesh=data=2`` splits every step's batch over 2 devices (``batch_size`` even),
for one run or a sweep (whose runs are then replicated), equal to one device's up to
float rounding (tests/parallel/test_runs_axis.py measures how far).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh

from jaxdl.charlm import (
    SPLITS,
    CharLMRun,
    as_device_data,
    decode_samples,
    group_by_shape,
    init_states,
    lm_loss,
    make_split_evaluator,
    sample,
    sample_cached,
    train_char_lm,
)
from jaxdl.data.names import VOCAB, load_splits
from jaxdl.parallel import replicated
from jaxdl.training import (
    Run,
    Sampled,
    TrainResult,
    TrainState,
    ema_params,
    expand_rows,
    exponential_lrs,
    lr_find,
    smooth,
    suggest_lr,
    swept_fields,
    with_hyperparams,
    write_table,
)
from jaxdl.viz import plot_embedding, plot_losses, plot_lr_find

from .. import _common
from .._common import open_run
from ..cli_config import ConfigError

Splits = Mapping[str, Mapping[str, jax.Array]]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the config asks for, as objects: the runs and how to train them."""

    runs: list[CharLMRun]  # one run, or the sweep's rows x grid
    grid: list[str]  # the swept fields (the rows' then the grid's); empty for one run
    chunk_steps: int
    progress: bool
    mesh: Mesh | None = None  # the devices, from config.mesh
    vmap: bool = True  # a sweep trains each group of equal shapes as one vmapped program


def build(config: ml_collections.ConfigDict) -> Plan:
    """The config's runs, validated once; ``ConfigError`` names the config field."""
    mesh = _common.setup(config)
    fields = [f.name for f in dataclasses.fields(CharLMRun)]
    try:
        base = CharLMRun(**{name: config[name] for name in fields})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config.{e}") from e
    grid = {k: list(v) for k, v in config.sweep.items()}
    rows = [dict(r) if isinstance(r, Mapping) else r for r in config.get("rows", [])]
    try:
        runs = expand_rows(base, rows, grid)
    except (TypeError, ValueError) as e:
        where = "" if str(e).startswith("rows[") else ("rows: " if rows else "sweep: ")
        raise ConfigError(f"config.{where}{e}") from e
    if config.chunk_steps < 1:
        raise ConfigError(f"config.chunk_steps is {config.chunk_steps}, expected >= 1.")
    swept = swept_fields(rows, grid)
    vmap = config.get("sweep_vmap", True)
    return Plan(runs, swept, config.chunk_steps, config.progress, mesh, vmap)


def _splits_fn(config: ml_collections.ConfigDict, mesh: Mesh | None) -> Callable[[int], Splits]:
    @functools.lru_cache
    def splits(block_size: int) -> dict[str, dict[str, jax.Array]]:
        windows = load_splits(
            block_size, config.data_path or None, year=config.year, seed=config.split_seed
        )
        data = {k: as_device_data(v) for k, v in windows.items()}
        # Every device draws its rows from the whole split.
        return data if mesh is None else jax.device_put(data, replicated(mesh))

    return splits


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """One run (``config.sweep`` empty) or a sweep; writes artefacts, returns the summary."""
    plan = build(config)
    with open_run(config, workdir, "makemore", curves=False) as run:
        splits_fn = _splits_fn(config, plan.mesh)
        if plan.grid:
            metrics, extra = _sweep(plan, run, splits_fn)
        else:
            metrics, extra = _single(plan, config, run, splits_fn(plan.runs[0].block_size))
        return run.finish(metrics, **extra)


def _train(
    state: TrainState, spec: CharLMRun, splits: Splits, plan: Plan, **kwargs: Any
) -> TrainResult:
    """``spec.num_steps`` steps in epochs of ``plan.chunk_steps`` (the last one partial)."""
    return train_char_lm(
        state,
        spec,
        splits["train"],
        chunk_steps=plan.chunk_steps,
        keep_step_metrics=True,
        progress=plan.progress,
        mesh=plan.mesh,
        **kwargs,
    )


def _single(plan: Plan, config, run: Run, splits: Splits) -> tuple[dict, dict]:
    spec = plan.runs[0]
    state = spec.init_state()
    metrics: dict[str, Any] = {}
    if config.lr_find_steps:
        metrics["lr_find_suggestion"] = _lr_find(state, spec, splits, config.lr_find_steps, run)
    tic = time.perf_counter()
    result = _train(state, spec, splits, plan, run=run)
    evaluate = make_split_evaluator()
    state = result.state

    def losses(state: TrainState, suffix: str = "") -> dict[str, float]:
        return {
            f"{k}_loss{suffix}": float(evaluate(state, splits[k])) for k in SPLITS if k in splits
        }

    if spec.ema_decay:  # the averaged weights are the model; the last ones are reported too
        metrics |= losses(state, "_last_weights")
        state = state.replace(params=ema_params(state.opt_state))
    metrics |= losses(state)
    if result.steps_per_s is not None:  # steady state: the chunks after the first
        metrics["steps_per_s"] = result.steps_per_s
    metrics["train_time_s"] = time.perf_counter() - tic
    model = state.model()
    # A GPT samples through its key/value cache, as far as its position table reaches.
    sampler = sample_cached if spec.model == "transformer" else sample
    ids = sampler(
        model,
        key=jax.random.key(config.seed + 10),
        num_samples=config.num_samples,
        temperature=config.temperature,
    )
    words = decode_samples(ids)
    if run.path("samples.txt") is not None:
        run.path("samples.txt").write_text("\n".join(words) + "\n")
        plot_losses({"train": result.step_metrics["loss"]}, run.path("loss_curve.png"))
        table = model.gpt.wte.embedding if spec.model == "transformer" else model.C
        plot_embedding(
            np.asarray(table[...]), VOCAB, run.path("embedding.png"), what="character embedding"
        )
    return metrics, {"samples": words, "num_params": state.num_params}


def _lr_find(state: TrainState, spec: CharLMRun, splits: Splits, num_steps: int, run: Run):
    """The learning-rate finder's suggestion (and ``lr_find.png``); no decay within it."""
    lrs = exponential_lrs(num_steps)
    source = Sampled(splits["train"], spec.batch_size, steps_per_epoch=num_steps)
    state = with_hyperparams(state, decay_factor=1.0)
    losses = np.asarray(lr_find(state, source, lrs, loss_fn=lm_loss))
    suggestion = suggest_lr(lrs, losses)
    if run.path("lr_find.png") is not None:
        plot_lr_find(lrs, losses, smooth(losses), suggestion, str(run.path("lr_find.png")))
    return suggestion


@dataclasses.dataclass
class SweepRow:
    """One run of a sweep: its spec, per-step training losses and final metrics."""

    spec: CharLMRun
    losses: np.ndarray  # (num_steps,)
    metrics: dict[str, float]
    # Wall time of the program that trained it (compile, steps, evaluation): shared by
    # the runs of a vmapped group; a separate run's own.
    program_time_s: float = float("nan")


def train_sweep(
    runs: Sequence[CharLMRun],
    plan: Plan,
    splits_fn: Callable[[int], Splits],
    run: Run | None = None,
) -> list[SweepRow]:
    """Trains ``runs``, one vmapped program per group of equal shapes (``plan.vmap``
    False: one unvmapped program per run); rows in run order.

    Row ``i`` equals the single run ``runs[i]`` up to float rounding of the batched
    matmuls. A run that diverges stops updating there (``diverged_at_step``). With a
    ``run``, each group is a stage of it with its own checkpoints (``group0``, ...), so
    a killed sweep resumes in the group it was training.
    """
    rows: list[SweepRow | None] = [None] * len(runs)
    groups = group_by_shape(runs) if plan.vmap else [[i] for i in range(len(runs))]
    for number, group in enumerate(groups):
        specs = [runs[i] for i in group]
        first = specs[0]
        splits = splits_fn(first.block_size)
        label = ", ".join(f"{f}={getattr(first, f)}" for f in CharLMRun.SHAPE_FIELDS)
        tic = time.perf_counter()
        if not plan.vmap:  # a separate run: its own program, no vmap
            rows[group[0]] = _train_alone(first, splits, plan, run, f"run{number}")
            rows[group[0]].program_time_s = time.perf_counter() - tic  # type: ignore[union-attr]
            continue
        result = _train(
            init_states(specs),
            first,
            splits,
            plan,
            vmapped=True,
            on_non_finite="record",
            desc=label,
            run=run,
            stage=f"group{number}",
        )
        evaluate = make_split_evaluator(vmapped=True)
        split_losses = {
            k: np.asarray(evaluate(result.state, splits[k])) for k in SPLITS if k in splits
        }
        elapsed = time.perf_counter() - tic
        for j, i in enumerate(group):
            metrics = {f"{k}_loss": float(v[j]) for k, v in split_losses.items()}
            metrics["diverged_at_step"] = int(result.bad_step[j])
            rows[i] = SweepRow(runs[i], result.step_metrics["loss"][j], metrics, elapsed)
    return rows  # type: ignore[return-value]


def _train_alone(spec: CharLMRun, splits: Splits, plan: Plan, run: Run | None, stage: str):
    result = _train(
        spec.init_state(), spec, splits, plan, on_non_finite="record", run=run, stage=stage
    )
    evaluate = make_split_evaluator()
    metrics = {f"{k}_loss": float(evaluate(result.state, splits[k])) for k in SPLITS if k in splits}
    metrics["diverged_at_step"] = int(result.bad_step)
    return SweepRow(spec, np.asarray(result.step_metrics["loss"]), metrics)


def results_table(rows: Sequence[SweepRow], fields: Sequence[str]) -> list[dict[str, Any]]:
    """``{field: value, ..., train_loss, dev_loss, test_loss, diverged_at_step}`` per run."""
    return [
        {
            **{f: getattr(r.spec, f) for f in fields},
            **{k: round(v, 4) for k, v in r.metrics.items()},
        }
        for r in rows
    ]


def _sweep(plan: Plan, run: Run, splits_fn) -> tuple[dict[str, Any], dict[str, Any]]:
    tic = time.perf_counter()
    rows = train_sweep(plan.runs, plan, splits_fn, run)
    elapsed = time.perf_counter() - tic
    table = results_table(rows, list(plan.grid))
    label = lambda r: ", ".join(f"{k}={getattr(r.spec, k)}" for k in plan.grid)  # noqa: E731
    if run.path("sweep") is not None:
        md, _ = write_table(table, run.path("sweep"))
        plot_losses({label(r): r.losses for r in rows}, run.path("loss_curve.png"))
        print(Path(md).read_text())
    best = min(rows, key=lambda r: r.metrics["dev_loss"])
    metrics = {
        "num_runs": len(rows),
        "num_programs": len(group_by_shape(plan.runs)) if plan.vmap else len(rows),
        "sweep_time_s": elapsed,
        "best_dev_loss": best.metrics["dev_loss"],
        "best_test_loss": best.metrics["test_loss"],
    }
    best_fields = {k: getattr(best.spec, k) for k in plan.grid}
    extra = {"best": best_fields, "table": json.loads(json.dumps(table))}
    return metrics, extra | {"program_time_s": [round(r.program_time_s, 2) for r in rows]}
