"""What a run leaves in its workdir: metrics.jsonl, TensorBoard events, curves, summary."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax


class MetricsWriter:
    """Appends one JSON line per record to ``metrics.jsonl`` and mirrors it to TensorBoard.

    On resume, records from epochs after the restored checkpoint are dropped, so the
    file describes exactly the run that continues.
    """

    def __init__(self, workdir: str | os.PathLike, *, tensorboard: bool = True):
        self.path = Path(workdir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter  # imported lazily: protobuf is slow to load

            self._tb = SummaryWriter(os.fspath(Path(workdir) / "tensorboard"))

    def history(self) -> list[dict[str, Any]]:
        """All records written so far."""
        if not self.path.exists():
            return []
        with self.path.open() as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate_after(self, epoch: int) -> None:
        """Drops the records of epochs after ``epoch``."""
        kept = [r for r in self.history() if r.get("epoch", 0) <= epoch]
        with self.path.open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in kept)

    def write(self, record: Mapping[str, Any], *, step: int) -> None:
        """Writes ``record`` (plain numbers) at global ``step``."""
        record = {k: _plain(v) for k, v in record.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for name, value in record.items():
                if isinstance(value, float | int) and name not in ("epoch", "step"):
                    self._tb.add_scalar(name.replace("_", "/", 1), value, step)
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value


def plot_curves(
    history: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, x: str = "epoch"
) -> Path | None:
    """Draws every ``train_*``/``test_*`` metric against ``x``, one panel per metric name.

    Returns the PNG's path, or ``None`` when there is nothing to plot.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    names = sorted(
        {
            k.split("_", 1)[1]
            for r in history
            for k in r
            if "_" in k and k.split("_", 1)[0] in ("train", "test")
        }
    )
    if not history or not names:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for split in ("train", "test"):
            pts = [(r[x], r[f"{split}_{name}"]) for r in history if f"{split}_{name}" in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=split)
        ax.set_xlabel(x)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def environment() -> dict[str, Any]:
    """JAX version, backend and devices, for summaries and benchmark results."""
    import flax
    import optax

    return {
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }


def write_summary(
    workdir: str | os.PathLike,
    *,
    metrics: Mapping[str, Any],
    config: Mapping[str, Any],
    wall_time_s: float,
    **extra: Any,
) -> Path:
    """Writes ``workdir/summary.json``: final metrics, resolved config, time, versions."""
    path = Path(workdir) / "summary.json"
    payload = {
        "metrics": {k: _plain(v) for k, v in metrics.items()},
        "config": dict(config),
        "wall_time_s": round(wall_time_s, 3),
        **environment(),
        **extra,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
