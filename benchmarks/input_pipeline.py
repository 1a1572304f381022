"""The fashion_mnist recipe's default config fed from memory and streamed through grain.

Runs ``python -m train fashion_mnist --config.input=memory`` and then ``--config.input=grain``
(one after the other, never together) and writes both runs' summaries, test accuracies
and training throughputs to ``benchmarks/input_pipeline/fashion_mnist.json``:

    PYTHONPATH=. python -m benchmarks.input_pipeline --workdir /tmp/input_bench
    PYTHONPATH=. python -m benchmarks.input_pipeline --workdir DIR --no-run   # summarise only

``DIR/memory`` and ``DIR/grain`` are the two runs' workdirs; ``DIR/records`` holds the
ArrayRecord files (written before the grain run starts training, outside its timing).
The throughput is the recipe's own ``train_examples_per_s`` (steady chunks; compilation
left out), the median over the epochs after the first. This is not one of ``make bench``'s
jaxdl-against-PyTorch results, so it is kept out of ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import _harness

OUT = Path(__file__).resolve().parent / "input_pipeline" / "fashion_mnist.json"
KINDS = ("memory", "grain")


def run(workdir: Path, kind: str, extra: list[str]) -> float:
    """One full run of the default config; returns its wall time in seconds."""
    cmd = [sys.executable, "-m", "train", "fashion_mnist", f"--workdir={workdir / kind}"]
    cmd += [f"--config.input={kind}", f"--config.records_dir={workdir / 'records'}"]
    cmd += ["--config.progress=False", "--config.overwrite=True", *extra]
    tic = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - tic


def summarise(workdir: Path) -> dict[str, Any]:
    """Both runs' numbers from their workdirs, and the ratios between them."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        summary = json.loads((workdir / kind / "summary.json").read_text())
        lines = (workdir / kind / "metrics.jsonl").read_text().splitlines()
        history = [json.loads(x) for x in lines]
        speeds = [r["train_examples_per_s"] for r in history[1:]]
        out[kind] = {
            "epochs": len(history),
            "test_accuracy": summary["metrics"]["test_accuracy"],
            "test_loss": summary["metrics"]["test_loss"],
            "train_examples_per_s_median": statistics.median(speeds),
            "train_examples_per_s_per_epoch": [r["train_examples_per_s"] for r in history],
            "wall_time_s": summary.get("wall_time_s"),
        }
    out["accuracy_points_grain_minus_memory"] = 100 * (
        out["grain"]["test_accuracy"] - out["memory"]["test_accuracy"]
    )
    out["throughput_ratio_grain_over_memory"] = (
        out["grain"]["train_examples_per_s_median"] / out["memory"]["train_examples_per_s_median"]
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.input_pipeline")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--no-run", action="store_true", help="summarise existing workdirs")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("overrides", nargs="*", help="more --config.X=Y for both runs")
    args = parser.parse_args(argv)
    walls = {}
    if not args.no_run:
        for kind in KINDS:
            walls[kind] = run(args.workdir, kind, args.overrides)
    record = {
        "name": "fashion_mnist_input",
        "command": "python -m train fashion_mnist --config.input={memory,grain} (default config)",
        **summarise(args.workdir),
        "wall_s": walls or None,
        "machine": _harness.machine_info(),
        "versions": _harness.versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k not in ("machine", "versions")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
