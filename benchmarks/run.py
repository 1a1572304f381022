"""Runs benchmarks, writes ``results/<name>.json`` and rewrites the README's results table.

Usage (from the repository root)::

    python -m benchmarks.run                      # every benchmark
    python -m benchmarks.run fashion_mnist_mlp    # some of them
    python -m benchmarks.run --quick              # smoke run: prints, writes nothing
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import _harness
from jaxdl import parallel

# name -> module under benchmarks/ with run(*, batch_size, repeats, train_examples, quick).
BENCHMARKS = (
    "roofline",  # first: the session's peak, which the others' fraction of peak divides by
    "fashion_mnist_mlp",
    "fashion_mnist_cnn",
    "conv_layer",
    "makemore",
    "makemore_sweep",
    "ppo",
    "ntxent",
    "distilbert_forward",
    "neural_ode",
    "gcn_layer",
    "classic_knn",
    "classic_kmeans",
    "remat_memory",
    "ddpm_sampling",
    "subwords",
    "gpt_sampling",
)
START, END = "<!-- results:start -->", "<!-- results:end -->"
# Absolute numbers are only meaningful on dedicated accelerators; shared CPUs vary too much.
_ABSOLUTE_BACKENDS = {"gpu", "cuda", "rocm", "tpu"}
# Above this many cores used by other processes during timing, a run is flagged as busy.
BUSY_CORES = 0.2
_COLUMNS = (
    "name",
    "metric",
    "jaxdl",
    "baseline",
    "ratio",
    "fraction of peak",
    "batch",
    "machine",
    "date",
)
#: Benchmarks that measure something other than time (no fraction of peak).
UNTIMED = ("remat_memory",)


def load_results(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``*.json`` record in ``results_dir``, sorted by name."""
    records = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path} is not valid JSON ({e}); delete it or rerun its benchmark."
            ) from e
    return sorted(records, key=lambda r: r["name"])


def _value_cell(side: Mapping[str, Any], backend: str) -> str:
    if backend not in _ABSOLUTE_BACKENDS:
        return "not quoted (CPU)"
    return f"{side['value']:,.0f} {side['unit']}"


def _machine_cell(machine: Mapping[str, Any]) -> str:
    cell = f"{machine.get('processor', '?')}, {machine.get('cpu_count', '?')} CPUs"
    backend = machine.get("backend", "cpu")
    return cell if backend == "cpu" else f"{cell}, {backend}"


def render_table(records: Iterable[Mapping[str, Any]]) -> str:
    """A Markdown table of ``records`` (absolute values only for accelerator runs)."""
    records = list(records)
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    busy = missing = False
    not_counted: dict[str, str] = {}
    peaks = {r.get("session"): r for r in records if r["name"] == "roofline"}
    for r in records:
        backend = r.get("machine", {}).get("backend", "cpu")
        flagged = (r.get("other_cpu_load") or 0.0) > BUSY_CORES
        busy |= flagged
        cells = [
            f"`{r['name']}`",
            r["metric"],
            _value_cell(r["jaxdl"], backend),
            _value_cell(r["baseline"], backend),
            f"{r['ratio']:.2f}x" + (" †" if flagged else ""),
            _fraction_cell(r, peaks.get(r.get("session"))),
            str(r.get("batch_size", "")),
            _machine_cell(r.get("machine", {})),
            str(r["date"])[:10],
        ]
        lines.append("| " + " | ".join(cells) + " |")
        missing |= cells[5] == "rerun ‡"
        if cells[5] == "n/a §":
            not_counted[r["name"]] = r["flops"]["not_counted"]
    if busy or missing or not_counted:
        lines.append("")
    if busy:
        lines.append(f"† other processes used more than {BUSY_CORES} cores while timing: rerun.")
    if missing:
        lines.append(
            "‡ no FLOP count in the record, or no `roofline` peak measured in the same session: "
            "rerun it with `python -m benchmarks.run` on an idle machine."
        )
    for name, reason in not_counted.items():
        lines.append(f"§ `{name}` has no FLOP count: {reason}.")
    return "\n".join(lines)


def _fraction_cell(record: Mapping[str, Any], peak: Mapping[str, Any] | None) -> str:
    """The record's achieved FLOP/s over the peak measured in its session, as a percent."""
    if record["name"] in UNTIMED:
        return "n/a"
    if (record.get("flops") or {}).get("not_counted"):
        return "n/a §"  # the benchmark says why it cannot count (a footnote gives it)
    fraction = _harness.peak_fraction(record, peak)
    return "rerun ‡" if fraction is None else f"{100 * fraction:.1f}%"


def update_readme(
    readme: str | Path = _harness.README, results_dir: str | Path = _harness.RESULTS_DIR
) -> str:
    """Replaces the text between the results markers in ``readme``; returns the table."""
    readme = Path(readme)
    text, start, end = _harness.read_marked(readme, START, END, "where the table goes")
    table = render_table(load_results(results_dir))
    readme.write_text(
        text[: start + len(START)] + "\n" + table + "\n" + text[end:], encoding="utf-8"
    )
    return table


def run_one(name: str, **kwargs: Any) -> dict[str, Any]:
    """Imports ``benchmarks.<name>`` and calls its ``run`` with the non-None ``kwargs``."""
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark {name!r} is unknown, expected one of {', '.join(BENCHMARKS)}.")
    module = importlib.import_module(f"benchmarks.{name}")
    return module.run(**{k: v for k, v in kwargs.items() if v is not None})


def _summary(record: Mapping[str, Any]) -> str:
    acc = record.get("sanity", {}).get("test_accuracy", {})
    line = f"{record['name']}: jaxdl/baseline {record['metric']} = {record['ratio']:.2f}x"
    if acc:
        line += f" (test accuracy jaxdl {acc['jaxdl']:.4f}, baseline {acc['baseline']:.4f})"
    other = record.get("other_cpu_load")
    if other is not None and other > BUSY_CORES:
        line += (
            f"\n  WARNING: other processes used {other:.2f} cores while timing; the ratio is "
            "not trustworthy (oversubscription hurts the two sides unequally). Rerun on an "
            "idle machine."
        )
    return line


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {BENCHMARKS})"
    )
    parser.add_argument("--repeats", type=int, help="timed repeats (default: each benchmark's)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: each benchmark's)")
    parser.add_argument("--train-examples", type=int, help="0 = the whole training split")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run; writes nothing")
    parser.add_argument("--results-dir", type=Path, default=_harness.RESULTS_DIR)
    parser.add_argument("--readme", type=Path, default=_harness.README)
    args = parser.parse_args(argv)

    # The ppo benchmark splits its seeds over the cores as CPU devices (as the recipe does,
    # jaxdl.parallel.cpu); JAX fixes the count when it starts, before the first benchmark.
    # The other benchmarks run on the first device, as before.
    parallel.request_cpu_devices(parallel.cpu_cores())
    records = []
    names = list(args.names or BENCHMARKS)
    if "roofline" not in names:
        names.insert(0, "roofline")  # the session's peak, for the fraction-of-peak column
    for name in names:
        record = run_one(
            name,
            repeats=args.repeats,
            batch_size=args.batch_size,
            train_examples=args.train_examples,
            quick=args.quick,
        )
        records.append(record)
        print(_summary(record), flush=True)
        if not args.quick:
            print(f"  wrote {_harness.write_result(record, args.results_dir)}", flush=True)
    if not args.quick:
        update_readme(args.readme, args.results_dir)
        print(f"updated {args.readme}")
    return records


if __name__ == "__main__":
    main(sys.argv[1:])
