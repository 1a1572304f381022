"""Writes ``TABLE.md``: the ``table`` config's losses beside the seed's, and its wall times.

Usage (after ``python -m train makemore --config=table --workdir=VMAPPED`` and the same
with ``--config.sweep_vmap=false --workdir=SEPARATE``)::

    python -m train.makemore.table_report VMAPPED SEPARATE > train/makemore/TABLE.md

``SEPARATE`` may be a run that was stopped early: its finished runs (those with a
``step_metrics-runN.npz``) are compared with the vmapped programs of the same rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from train.makemore.configs.table import FIELDS, SEED_TABLE

STEPS = "num_steps"


def program_ends(workdir: Path, prefix: str) -> dict[int, float]:
    """``{n: mtime}`` of each ``step_metrics-{prefix}{n}.npz``: when program ``n`` ended."""
    ends = {}
    for path in workdir.glob(f"step_metrics-{prefix}*.npz"):
        ends[int(path.stem.removeprefix(f"step_metrics-{prefix}"))] = path.stat().st_mtime
    return ends


def durations(workdir: Path, prefix: str) -> dict[int, float]:
    """Wall time of each finished program: from the previous one's end (the first: from
    ``run.json``'s, i.e. the run's, start), so loading, compiling and the previous
    program's evaluation are included. ``step_metrics-*.npz`` is rewritten after every
    chunk, so its last write is the end of its program's training."""
    ends = program_ends(workdir, prefix)
    if ends and not (workdir / "summary.json").exists():  # stopped: its last one unfinished
        del ends[max(ends)]
    start = (workdir / "run.json").stat().st_mtime
    out, last = {}, start
    for n in sorted(ends):
        out[n], last = ends[n] - last, ends[n]
    return out


def step_loss_gap(vmapped: Path, separate: Path, group: int, per_row: int) -> float:
    """Largest relative difference of the per-step losses, vmapped vs separate."""
    with np.load(vmapped / f"step_metrics-group{group}.npz") as f:
        together = f["loss"]
    gaps = []
    for j in range(per_row):
        with np.load(separate / f"step_metrics-run{group * per_row + j}.npz") as f:
            alone = f["loss"]
        gaps.append(np.max(np.abs(together[j] - alone) / np.abs(alone)))
    return float(max(gaps))


def report(vmapped: Path, separate: Path | None) -> str:
    summary = json.loads((vmapped / "summary.json").read_text())
    table = summary["table"]
    seeds = sorted({r["seed"] for r in table})
    lines = [
        "| # | "
        + " | ".join(FIELDS)
        + " | seed's test | "
        + " | ".join(f"test (seed {s})" for s in seeds)
        + " | test mean - seed's | dev mean | train mean |",
        "|" + "---|" * (len(FIELDS) + len(seeds) + 5),
    ]
    for i, ref in enumerate(SEED_TABLE):
        # Matched on the shape fields: a run with fewer steps is still shown, its steps as run.
        runs = [
            r
            for r in table
            if all(r[f] == v for f, v in zip(FIELDS, ref[:5], strict=True) if f != STEPS)
        ]
        test = [r["test_loss"] for r in runs]
        mean = {k: np.mean([r[f"{k}_loss"] for r in runs]) for k in ("test", "dev", "train")}
        steps = {r[STEPS] for r in runs}
        values = [f"{v:,}" for v in ref[:5]]
        if steps != {ref[FIELDS.index(STEPS)]}:
            values[FIELDS.index(STEPS)] = f"{steps.pop():,} (seed's {values[FIELDS.index(STEPS)]})"
        cells = [str(i + 1), *values, f"{ref[5]:.4f}"]
        cells += [f"{t:.4f}" for t in test]
        cells += [f"{mean['test'] - ref[5]:+.4f}", f"{mean['dev']:.4f}", f"{mean['train']:.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    m = summary["metrics"]
    lines += [
        "",
        f"Vmapped: {m['num_runs']} runs in {m.get('num_programs', len(SEED_TABLE))} programs, "
        f"`sweep_time_s` {m['sweep_time_s']:.0f} s (whole recipe {summary['wall_time_s']:.0f} s).",
    ]
    if separate is not None:
        v_times = durations(vmapped, "group")
        s_times = durations(separate, "run")
        per_row = len(seeds)
        done = [
            g for g in sorted(v_times) if all(g * per_row + j in s_times for j in range(per_row))
        ]
        v_sum = sum(v_times[g] for g in done)
        s_sum = sum(s_times[g * per_row + j] for g in done for j in range(per_row))
        lines += [
            f"Separate: {len(s_times)} of {m['num_runs']} runs finished; the {len(done)} rows "
            f"whose {per_row} runs all finished took {s_sum:.0f} s as {len(done) * per_row} "
            f"separate runs and {v_sum:.0f} s as {len(done)} vmapped programs "
            f"(ratio {s_sum / max(v_sum, 1e-9):.2f}).",
            "",
            "| # | vmapped program (s) | "
            + " | ".join(f"seed {s} alone (s)" for s in seeds)
            + " |",
            "|" + "---|" * (2 + len(seeds)),
        ]
        for g in done:
            alone = [f"{s_times[g * per_row + j]:.0f}" for j in range(per_row)]
            lines.append(f"| {g + 1} | {v_times[g]:.0f} | " + " | ".join(alone) + " |")
        gap = max((step_loss_gap(vmapped, separate, g, per_row) for g in done), default=0.0)
        lines += [
            "",
            f"Every step's training loss of those separate runs against the same run in its "
            f"vmapped program: largest relative difference {gap:.1e}.",
        ]
        if (separate / "summary.json").exists():
            alone = json.loads((separate / "summary.json").read_text())["table"]
            diff = max(
                abs(a[f"{k}_loss"] - b[f"{k}_loss"])
                for a, b in zip(table, alone, strict=True)
                for k in ("train", "dev", "test")
            )
            lines[-1] += (
                " Final train/dev/test losses: equal at the table's 4 decimals."
                if diff == 0
                else f" Final train/dev/test losses: largest difference {diff:.1e}."
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    print(report(args[0], args[1] if len(args) > 1 else None), end="")
