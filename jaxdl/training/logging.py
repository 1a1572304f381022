"""What a run leaves in its workdir: metrics.jsonl, TensorBoard events, summary.json."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax

# Moved to jaxdl.viz; kept importable here for the code that still names it so.
from jaxdl.viz.curves import plot_curves

__all__ = ["MetricsWriter", "environment", "plot_curves", "write_summary"]


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


def environment() -> dict[str, Any]:
    """JAX version, backend and devices, for summaries and benchmark results.

    Returns:
      A JSON-ready dict with keys ``jax``, ``flax``, ``optax``, ``python`` (version
      strings), ``backend`` (e.g. ``"cpu"``), ``devices`` (their ``str``), ``cpu_count``
      and ``machine``.

    Example:
      >>> sorted(environment())[:3]
      ['backend', 'cpu_count', 'devices']
    """
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
    """Writes ``workdir/summary.json``: final metrics, resolved config, time, versions.

    Args:
      workdir: an existing folder; ``summary.json`` there is overwritten.
      metrics: final metrics; values with ``.item()`` (NumPy/JAX scalars) become Python
        numbers.
      config: the resolved configuration, written as given (non-JSON values via ``str``).
      wall_time_s: the run's wall time in seconds, rounded to milliseconds.
      **extra: further top-level entries; they win over the :func:`environment` keys.

    Returns:
      The path of the written ``summary.json``.
    """
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
