"""makemore (seed 002): character-level language models of names, one run or a sweep."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxdl.data.names import VOCAB, load_splits
from jaxdl.lm import (
    decode_samples,
    expand_grid,
    exponential_lrs,
    init_state,
    lr_find,
    results_table,
    run_spec,
    sample,
    smooth,
    suggest_lr,
    train_run,
    train_sweep,
    write_table,
)
from jaxdl.lm.run import RUN_FIELDS
from jaxdl.lm.train import as_device_data
from jaxdl.training import MetricsWriter, write_summary
from jaxdl.viz import plot_embedding, plot_losses, plot_lr_find
from train.cli_config import ConfigError


def _splits_fn(config: ml_collections.ConfigDict):
    @functools.lru_cache
    def splits(block_size: int) -> dict[str, dict[str, jax.Array]]:
        windows = load_splits(
            block_size, config.data_path or None, year=config.year, seed=config.split_seed
        )
        return {k: as_device_data(v) for k, v in windows.items()}

    return splits


def _check(config: ml_collections.ConfigDict) -> None:
    if config.block_size < 1:
        raise ConfigError(f"config.block_size is {config.block_size}, expected >= 1.")
    if config.model not in ("mlp", "wavenet"):
        raise ConfigError(f"config.model is {config.model!r}, expected 'mlp' or 'wavenet'.")
    unknown = sorted(set(config.sweep) - set(RUN_FIELDS))
    if unknown:
        raise ConfigError(
            f"config.sweep varies {unknown}; sweepable fields are {', '.join(RUN_FIELDS)}."
        )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """One run (``config.sweep`` empty) or a sweep; writes artefacts, returns the summary."""
    tic = time.perf_counter()
    _check(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    splits_fn = _splits_fn(config)
    if len(config.sweep):
        metrics, extra = _sweep(config, workdir, splits_fn)
    else:
        metrics, extra = _single(config, workdir, splits_fn)
    wall = time.perf_counter() - tic
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=wall,
        recipe="makemore",
        **extra,
    )
    return {"metrics": metrics, "wall_time_s": wall}


def _single(config, workdir: Path, splits_fn) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = run_spec(config)
    splits = splits_fn(config.block_size)
    metrics: dict[str, Any] = {}
    if config.lr_find_steps:
        lrs = exponential_lrs(config.lr_find_steps)
        losses = np.asarray(
            lr_find(init_state(spec), splits["train"], lrs, batch_size=config.batch_size)
        )
        metrics["lr_find_suggestion"] = suggest_lr(lrs, losses)
        plot_lr_find(
            lrs, losses, smooth(losses), metrics["lr_find_suggestion"], workdir / "lr_find.png"
        )
    writer = MetricsWriter(workdir)
    if not config.resume:
        writer.path.unlink(missing_ok=True)
    step_times = []

    def on_chunk(step: int, chunk_losses: np.ndarray) -> None:
        step_times.append((step, time.perf_counter()))
        writer.write({"step": step, "train_loss_chunk": float(chunk_losses.mean())}, step=step)

    tic = time.perf_counter()
    result = train_run(
        spec,
        splits,
        chunk_steps=config.chunk_steps,
        workdir=str(workdir),
        resume=config.resume,
        progress=config.progress,
        on_chunk=on_chunk,
    )
    writer.close()
    metrics.update(result.metrics)
    # Steady-state speed: chunks after the first (which includes compilation).
    if len(step_times) >= 2:
        (s0, t0), (s1, t1) = step_times[0], step_times[-1]
        metrics["steps_per_s"] = (s1 - s0) / (t1 - t0)
    metrics["train_time_s"] = time.perf_counter() - tic
    model = result.state.model()
    ids = sample(
        model,
        key=jax.random.key(config.seed + 10),
        num_samples=config.num_samples,
        temperature=config.temperature,
    )
    words = decode_samples(ids)
    (workdir / "samples.txt").write_text("\n".join(words) + "\n")
    plot_losses({"train": result.losses}, workdir / "loss_curve.png")
    plot_embedding(
        np.asarray(model.C[...]), VOCAB, workdir / "embedding.png", what="character embedding"
    )
    return metrics, {"samples": words, "num_params": _num_params(result.state)}


def _sweep(config, workdir: Path, splits_fn) -> tuple[dict[str, Any], dict[str, Any]]:
    base = {f: config[f] for f in RUN_FIELDS}
    grid = {k: list(v) for k, v in config.sweep.items()}
    specs = expand_grid(base, grid)
    tic = time.perf_counter()
    results = train_sweep(
        specs, splits_fn, chunk_steps=config.chunk_steps, progress=config.progress
    )
    elapsed = time.perf_counter() - tic
    rows = results_table(results, list(grid))
    md, csv = write_table(rows, workdir / "sweep")
    plot_losses(
        {", ".join(f"{k}={r.spec[k]}" for k in grid): r.losses for r in results},
        workdir / "loss_curve.png",
    )
    best = min(results, key=lambda r: r.metrics["dev_loss"])
    metrics = {
        "num_runs": len(results),
        "sweep_time_s": elapsed,
        "best_dev_loss": best.metrics["dev_loss"],
        "best_test_loss": best.metrics["test_loss"],
    }
    print(Path(md).read_text())
    return metrics, {"best": {k: best.spec[k] for k in grid}, "table": json.loads(json.dumps(rows))}


def _num_params(state) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
