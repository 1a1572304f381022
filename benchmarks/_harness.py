"""The timing helper and result records shared by every benchmark.

Timing rules (the README explains why): warm-up calls first so compilation is excluded,
then ``repeats`` timed calls whose median is reported; the clock stops only after
``jax.block_until_ready`` on the result, because JAX dispatches asynchronously and would
otherwise return before the work is done. When two sides are compared they run in one
process, interleaved call by call, so machine noise hits both alike.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"

# Distributions whose versions go into every record (import names may differ, so ask
# the installed metadata rather than the modules).
_VERSIONED = ("jax", "jaxlib", "flax", "optax", "torch", "numpy")

Sync = Callable[[Any], Any]


def block(result: Any) -> Any:
    """Waits for every JAX array in ``result``; other leaves (torch tensors, None) pass."""
    return jax.block_until_ready(result)


def _time_once(fn: Callable[[], Any], sync: Sync) -> float:
    tic = time.perf_counter()
    sync(fn())
    return time.perf_counter() - tic


def time_fn(
    fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 5, sync: Sync = block
) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls.

    ``sync`` is applied to each result before the clock stops; the default blocks on JAX
    arrays. A PyTorch CPU call is already synchronous, so the default is harmless there
    (on a GPU pass ``sync=lambda _: torch.cuda.synchronize()``).
    """
    return time_interleaved({"fn": fn}, warmup=warmup, repeats=repeats, sync=sync)["fn"]


def time_interleaved(
    fns: Mapping[str, Callable[[], Any]],
    *,
    warmup: int = 1,
    repeats: int = 5,
    sync: Sync | Mapping[str, Sync] = block,
) -> dict[str, list[float]]:
    """Like :func:`time_fn` for several functions, called in turn: a, b, a, b, ...

    Interleaving means a slow spell of the machine (another process, thermal throttling)
    lands on both sides instead of on whichever happened to run then. ``sync`` may be one
    function for all or a mapping with one per name.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats={repeats}, warmup={warmup}; expected repeats >= 1, warmup >= 0.")
    syncs = sync if isinstance(sync, Mapping) else dict.fromkeys(fns, sync)
    for _ in range(warmup):
        for name, fn in fns.items():
            syncs[name](fn())
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_time_once(fn, syncs[name]))
    return times


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (robust to one slow outlier, unlike the mean)."""
    if not values:
        raise ValueError("values is empty, expected at least one timing.")
    return float(statistics.median(values))


class OtherLoad:
    """Context manager: how many cores other processes kept busy while the block ran.

    Reads the machine's busy time from ``/proc/stat`` and subtracts this process's own
    CPU time (all its threads), so ``cores`` is the average number of cores used by
    everything else. Near 0 means the timings are clean; on a shared machine a value of
    a few tenths or more means they are contaminated. ``None`` where there is no procfs.
    """

    def __init__(self) -> None:
        self.cores: float | None = None
        self._start: tuple[float, float, float] | None = None

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="utf-8") as f:
                ticks = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        own = sum(os.times()[:2])  # user + system time of every thread of this process
        return time.monotonic(), busy, own

    def __enter__(self) -> OtherLoad:
        self._start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        if self._start is None or end is None or end[0] <= self._start[0]:
            return
        elapsed = end[0] - self._start[0]
        other = (end[1] - self._start[1]) - (end[2] - self._start[2])
        self.cores = max(0.0, other / elapsed)


def set_threads() -> dict[str, int]:
    """Gives PyTorch as many intra-op threads as XLA's CPU backend uses, and returns both.

    XLA:CPU sizes its thread pool to all cores (``os.cpu_count()``); torch picks its own
    default (often physical cores only), which would make the comparison about threads.
    """
    n = os.cpu_count() or 1
    counts = {"jax": n}
    try:
        import torch
    except ImportError:
        return counts
    torch.set_num_threads(n)
    counts["torch"] = torch.get_num_threads()
    counts["torch_interop"] = torch.get_num_interop_threads()
    return counts


def thread_counts() -> dict[str, int]:
    """The thread counts in force now (what :func:`set_threads` set, if it ran)."""
    counts = {"jax": os.cpu_count() or 1}
    try:
        import torch
    except ImportError:
        return counts
    counts["torch"] = torch.get_num_threads()
    counts["torch_interop"] = torch.get_num_interop_threads()
    return counts


def _processor_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """Where the numbers come from: OS, CPU model and count, the JAX backend and devices.

    The load average is kept because a shared machine's other work slows both sides and
    says how much to trust a run (interleaving evens it out, it does not remove it).
    """
    return {
        "platform": platform.platform(),
        "processor": _processor_name(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str | None]:
    """Python and the library versions that shape the timings (None: not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def speed_ratio(jaxdl_value: float, baseline_value: float, *, higher_is_better: bool) -> float:
    """How many times faster jaxdl is: above 1 means jaxdl wins.

    For throughputs (higher is better) that is jaxdl / baseline; for times it is
    baseline / jaxdl.
    """
    if jaxdl_value <= 0 or baseline_value <= 0:
        raise ValueError(
            f"jaxdl_value={jaxdl_value}, baseline_value={baseline_value}; expected both > 0."
        )
    if higher_is_better:
        return jaxdl_value / baseline_value
    return baseline_value / jaxdl_value


def result_record(
    name: str,
    metric: str,
    jaxdl_value: float,
    baseline_value: float,
    unit: str,
    extra: Mapping[str, Any] | None = None,
    *,
    higher_is_better: bool = True,
) -> dict[str, Any]:
    """One benchmark result: both measured values, the ratio, and where and when.

    ``extra`` (batch size, per-repeat times, accuracies...) is merged in at top level;
    it may not overwrite the standard keys.
    """
    record: dict[str, Any] = {
        "name": name,
        "metric": metric,
        "jaxdl": {"value": float(jaxdl_value), "unit": unit},
        "baseline": {"value": float(baseline_value), "unit": unit},
        "ratio": speed_ratio(jaxdl_value, baseline_value, higher_is_better=higher_is_better),
        "higher_is_better": higher_is_better,
        "machine": machine_info(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "threads": thread_counts(),
    }
    clash = set(record) & set(extra or {})
    if clash:
        raise ValueError(f"extra has keys {sorted(clash)}, which the record already defines.")
    record.update(extra or {})
    return record


def write_result(record: Mapping[str, Any], results_dir: str | Path = RESULTS_DIR) -> Path:
    """Writes ``record`` to ``results_dir/<result_file or name>.json``, replacing that run."""
    path = Path(results_dir) / f"{record.get('result_file', record['name'])}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def read_marked(readme: str | Path, start: str, end: str, hint: str) -> tuple[str, int, int]:
    """``readme``'s text and the offsets of the ``start`` and ``end`` markers in it.

    Raises:
      ValueError: naming the file and the markers (``hint`` says where they belong).
    """
    text = Path(readme).read_text(encoding="utf-8")
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"{readme} lacks the markers {start} ... {end}; add them {hint}.")
    return text, i, j
