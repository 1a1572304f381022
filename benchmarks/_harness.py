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
#: One id per process: records written by one ``python -m benchmarks.run`` share it, so
#: the table divides a benchmark's FLOP/s only by a peak measured alongside it.
SESSION = f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%S}-{os.getpid()}"


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
    CPU time (all its threads, and its child processes once they have ended), so ``cores``
    is the average number of cores used by everything else. Near 0 means the timings are
    clean; on a shared machine a value of a few tenths or more means they are contaminated.
    ``None`` where there is no procfs.
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
        # User + system time of every thread of this process and of its finished child
        # processes: a baseline run as a subprocess (the fastText binary) is not other load.
        own = sum(os.times()[:4])
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
        "session": SESSION,
    }
    clash = set(record) & set(extra or {})
    if clash:
        raise ValueError(f"extra has keys {sorted(clash)}, which the record already defines.")
    record.update(extra or {})
    return record


def step_cost(
    fn: Callable[..., Any], *args: Any, single_trip_loops: bool = False, **kwargs: Any
) -> dict[str, float]:
    """XLA's cost analysis of ``fn(*args, **kwargs)`` compiled: FLOPs and bytes accessed.

    ``fn`` is a function or a ``jax.jit`` of one; it is lowered and compiled for these
    arguments (shapes and dtypes are what count). Pass one step: XLA counts the body of
    a ``while`` loop (``lax.scan``, ``fori_loop``) once, not once per iteration, so the
    cost of a compiled loop of S steps would be the cost of one. Hence a program with a
    loop is refused, unless ``single_trip_loops`` says that each of its loops runs
    exactly once per call (e.g. the engine's chunk compiled for one step), where
    counting the body once is right.

    Returns:
      ``{"flops": ..., "bytes_accessed": ...}`` per call (the ``transcendentals`` count
      too where XLA gives it).

    Raises:
      ValueError: if the compiled program contains a ``while`` loop, or XLA gives no
        FLOP count.
    """
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    compiled = jitted.lower(*args, **kwargs).compile()
    if not single_trip_loops and " while(" in compiled.as_text():
        raise ValueError(
            "fn compiles to a while loop, whose body XLA's cost analysis counts once; "
            "expected one step (pass the loop body and multiply by the steps)."
        )
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    if not cost or "flops" not in cost:
        raise ValueError(f"XLA gave no FLOP count for fn (cost analysis: {cost!r}).")
    out = {"flops": float(cost["flops"]), "bytes_accessed": float(cost.get("bytes accessed", 0))}
    if "transcendentals" in cost:
        out["transcendentals"] = float(cost["transcendentals"])
    return out


def flops_record(cost: Mapping[str, float], steps: float, seconds: float) -> dict[str, Any]:
    """What a timed unit of ``steps`` steps of cost ``cost`` (:func:`step_cost`) taking
    ``seconds`` achieved: the record's ``flops`` entry, which the table divides by the
    session's peak (``benchmarks/roofline.py``).

    >>> flops_record({"flops": 2e9, "bytes_accessed": 4e6}, 10, 2.0)["flops_per_s"]
    10000000000.0
    """
    if steps <= 0 or seconds <= 0:
        raise ValueError(f"steps={steps}, seconds={seconds}; expected both > 0.")
    return {
        "per_step": float(cost["flops"]),
        "bytes_per_step": float(cost.get("bytes_accessed", 0.0)),
        "steps_per_unit": float(steps),
        "seconds_per_unit": float(seconds),
        "flops_per_s": float(cost["flops"]) * steps / seconds,
        "bytes_per_s": float(cost.get("bytes_accessed", 0.0)) * steps / seconds,
        "source": "XLA cost analysis of one compiled step",
    }


def peak_fraction(record: Mapping[str, Any], peak: Mapping[str, Any] | None) -> float | None:
    """``record``'s achieved FLOP/s as a fraction of ``peak``'s matmul rate (the
    ``roofline`` record), or ``None`` when either number is missing or they come from
    different sessions (a peak measured at another time, under another load, would make
    the fraction meaningless)."""
    flops = record.get("flops") or {}
    if peak is None or "flops_per_s" not in flops or "peak" not in peak:
        return None
    if record.get("session") is None or record.get("session") != peak.get("session"):
        return None
    return flops["flops_per_s"] / peak["peak"]["matmul_flops_per_s"]


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
