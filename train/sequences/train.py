"""Sequence recipe: CTC with greedy decoding, and teacher forcing vs open loop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import ml_collections

from jaxdl.sequence import train_ctc, train_seq2seq
from jaxdl.training.logging import MetricsWriter, plot_curves, write_summary

_TASK_FIELDS = ("num_symbols", "features", "max_labels", "noise")


def _log(workdir: Path, name: str, history: list[dict[str, float]]) -> None:
    """Appends the task's records (tagged with its name) to metrics.jsonl; plots them."""
    writer = MetricsWriter(workdir, tensorboard=False)
    for record in history:
        writer.write({"task": name, **record}, step=int(record["step"]))
    writer.close()
    plot_curves(history, workdir / f"{name}_curves.png", x="step")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains both models; writes metrics.jsonl per task, curves and summary.json."""
    workdir_path = Path(workdir)
    workdir_path.mkdir(parents=True, exist_ok=True)
    (workdir_path / "metrics.jsonl").unlink(missing_ok=True)  # a rerun starts a fresh log
    tic = time.perf_counter()
    key_ctc, key_s2s = jax.random.split(jax.random.key(config.seed))
    c = config.ctc
    ctc = train_ctc(
        key=key_ctc,
        num_steps=c.num_steps,
        chunk_steps=c.chunk_steps,
        batch_size=c.batch_size,
        hidden=c.hidden,
        learning_rate=c.learning_rate,
        eval_size=c.eval_size,
        task={f: c[f] for f in _TASK_FIELDS},
        progress=config.progress,
    )
    _log(workdir_path, "ctc", ctc.history)
    s = config.seq2seq
    s2s = train_seq2seq(
        key=key_s2s,
        num_steps=s.num_steps,
        chunk_steps=s.chunk_steps,
        batch_size=s.batch_size,
        digits=s.digits,
        reverse=s.reverse,
        hidden=s.hidden,
        learning_rate=s.learning_rate,
        eval_size=s.eval_size,
        progress=config.progress,
    )
    _log(workdir_path, "seq2seq", s2s.history)
    metrics = {
        "test_label_error_rate": ctc.metrics["label_error_rate"],
        "test_ctc_loss": ctc.metrics["loss"],
        **{k: v for k, v in s2s.metrics.items() if k.startswith("test_")},
        "ctc_seconds": ctc.seconds,
        "seq2seq_seconds": s2s.seconds,
    }
    wall = time.perf_counter() - tic
    write_summary(
        workdir_path, metrics=metrics, config=config.to_dict(), wall_time_s=wall, recipe="sequences"
    )
    return {"metrics": metrics, "wall_time_s": wall}
