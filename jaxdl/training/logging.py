"""What a run leaves in its workdir: metrics.jsonl, TensorBoard events, summary.json."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from typing import Any

import jax
from etils import epath

from jaxdl.training.workdir import writing

# Moved to jaxdl.viz; kept importable here for the code that still names it so.
from jaxdl.viz.curves import plot_curves

__all__ = ["MetricsWriter", "environment", "plot_curves", "write_summary"]


class MetricsWriter:
    """Appends one JSON line per record to ``metrics.jsonl`` and mirrors it to TensorBoard.

    Args:
      workdir: the run's folder (a local path or an :class:`etils.epath.Path` URI).
      tensorboard: also write TensorBoard events (under ``workdir/tensorboard``).
      keep: on resume, how many records of an earlier process to keep (the rest
        belong to progress that was not saved); ``None`` keeps them all.
      purge_step: on resume, TensorBoard hides the earlier events from this step on.
    """

    def __init__(
        self,
        workdir: str | os.PathLike,
        *,
        tensorboard: bool = True,
        keep: int | None = None,
        purge_step: int | None = None,
    ):
        self.path = epath.Path(workdir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if keep is not None:
            self.keep_first(keep)
        self._tb = None
        if tensorboard:
            try:
                writer = _summary_writer()
            except ImportError:  # an optional dependency: the run goes on without events
                notice_once(
                    "tensorboardX is not installed: no TensorBoard events; pip install tensorboardX"
                )
            else:
                self._tb = writer(
                    os.fspath(epath.Path(workdir) / "tensorboard"), purge_step=purge_step
                )

    def history(self) -> list[dict[str, Any]]:
        """All records written so far (a line cut short by a kill is dropped)."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                break  # a line the kill interrupted; nothing after it was written
        return records

    def keep_first(self, n: int) -> None:
        """Keeps the first ``n`` records and drops the rest (and a line cut short).

        The shorter file is written aside and renamed over the old one, so a kill while
        cutting leaves one of the two whole.
        """
        if not self.path.exists():
            return
        kept = self.history()[:n]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        if text == self.path.read_text():
            return
        partial = self.path.parent / f".{self.path.name}.partial"
        partial.write_text(text)
        partial.replace(self.path)

    def write(self, record: Mapping[str, Any], *, step: int) -> None:
        """Writes ``record`` (plain numbers) at global ``step``."""
        record = {k: plain(v) for k, v in record.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for name, value in record.items():
                if isinstance(value, float | int) and name not in ("epoch", "step"):
                    self._tb.add_scalar(name.replace("_", "/", 1), value, step)
            self._tb.flush()

    def close(self) -> None:
        """Flushes and closes the TensorBoard file (an OS error becomes a WorkdirError)."""
        if self._tb is not None:
            with writing(self.path.parent):
                self._tb.close()


def _summary_writer() -> type:
    """tensorboardX's ``SummaryWriter``, imported lazily (protobuf is slow to load).

    tensorboardX imports torch when it can, only to accept torch tensors, which these
    scalars never are; that import alone takes 3.5 s on a 2-core machine where torch is
    installed (the ``torch`` extra). Unless the process has imported torch already, it
    is hidden while tensorboardX loads (a ``None`` in ``sys.modules`` makes the import
    fail, which tensorboardX handles), then unhidden.
    """
    if "tensorboardX" in sys.modules or "torch" in sys.modules:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter


_told: set[str] = set()


def notice_once(message: str) -> None:
    """Prints ``notice: <message>`` on stderr, the first time only in this process (a
    run that opens several writers or draws every epoch says it once)."""
    if message not in _told:
        _told.add(message)
        print(f"notice: {message}", file=sys.stderr)


def plain(value: Any) -> Any:
    """A JSON-ready value: arrays become (nested) lists, scalars Python numbers."""
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
        return value.tolist()
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
) -> epath.Path:
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
    path = epath.Path(workdir) / "summary.json"
    payload = {
        "metrics": {k: plain(v) for k, v in metrics.items()},
        "config": dict(config),
        "wall_time_s": round(wall_time_s, 3),
        **environment(),
        **extra,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
