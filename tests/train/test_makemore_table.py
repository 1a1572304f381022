"""makemore's explicit rows: parsing and grouping, vmapped groups against runs one by
one, the unknown-field error, the markdown table and the seed's 15-row config."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from jaxdl.charlm import CharLMRun, group_by_shape
from tests.charlm.test_charlm import WORDS
from train.__main__ import main
from train.cli_config import ConfigError
from train.makemore import train as makemore
from train.makemore.configs import quick, table

# Two shapes, one of them twice: 2 rows x 2 seeds = 4 runs in 2 vmapped programs.
ROWS = [
    {"n_hidden": 8, "n_embd": 4, "batch_size": 16, "learning_rate": 0.2},
    {"n_hidden": 12, "n_embd": 3, "batch_size": 8},
    {"n_hidden": 8, "n_embd": 4, "batch_size": 16, "learning_rate": 0.05},
]


@pytest.fixture
def names_file(tmp_path: Path) -> Path:
    path = tmp_path / "names.txt"
    path.write_text("\n".join(WORDS * 3) + "\n")
    return path


def rows_config(names_file: Path, **overrides):
    c = quick.get_config()
    c.num_steps, c.chunk_steps, c.lr_find_steps = 60, 25, 0
    c.data_path = str(names_file)
    c.rows = [dict(r) for r in ROWS]
    c.sweep = {"seed": [0, 1]}
    for k, v in overrides.items():
        c[k] = v
    return c


def test_rows_parse_and_group_by_shape(names_file):
    plan = makemore.build(rows_config(names_file))
    assert [(r.n_hidden, r.learning_rate, r.seed) for r in plan.runs] == [
        (8, 0.2, 0),
        (8, 0.2, 1),
        (12, 0.1, 0),  # the config's learning rate where a row sets none
        (12, 0.1, 1),
        (8, 0.05, 0),
        (8, 0.05, 1),
    ]
    assert all(r.num_steps == 60 and r.block_size == 3 for r in plan.runs)
    assert plan.grid == ["n_hidden", "n_embd", "batch_size", "learning_rate", "seed"]
    # Rows 0 and 2 differ only in the learning rate: one program for 4 runs.
    assert group_by_shape(plan.runs) == [[0, 1, 4, 5], [2, 3]]


def test_an_unknown_row_field_is_one_sentence(names_file, tmp_path, capsys):
    config = rows_config(names_file)
    config.rows = [{"n_hidden": 8}, {"num_neurons": 10, "n_embd": 4}]
    fields = ", ".join(f.name for f in dataclasses.fields(CharLMRun))
    expected = f"config.rows[1] sets ['num_neurons'], expected fields of CharLMRun: {fields}."
    with pytest.raises(ConfigError) as e:
        makemore.build(config)
    assert str(e.value) == expected
    # Through the command line: exit status 2 and the same one line.
    path = tmp_path / "bad.py"
    path.write_text(
        "from train.makemore.configs import quick\n"
        "def get_config():\n"
        "    c = quick.get_config()\n"
        "    c.rows = [{'n_hidden': 8}, {'num_neurons': 10, 'n_embd': 4}]\n"
        "    return c\n"
    )
    argv = ["makemore", f"--config={path}", f"--workdir={tmp_path / 'run'}"]
    assert main([*argv, f"--config.data_path={names_file}"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {expected}"
    config.rows = [{"block_size": 0}]
    with pytest.raises(ConfigError, match=r"^config.rows: block_size is 0, expected >= 1.$"):
        makemore.build(config)


@pytest.mark.slow  # 8 programs compiled: about 20 s alone, minutes on a shared CPU
def test_vmapped_groups_equal_the_rows_run_one_by_one(names_file):
    """Tolerance: rtol 1e-5 on every step's loss and on the final split losses (the
    vmapped program batches the matmuls differently, so float rounding differs)."""
    config = rows_config(names_file)
    together = makemore.build(config)
    alone = dataclasses.replace(together, vmap=False)
    splits = makemore._splits_fn(config, None)
    vmapped = makemore.train_sweep(together.runs, together, splits)
    separate = makemore.train_sweep(alone.runs, alone, splits)
    assert [r.spec for r in vmapped] == [r.spec for r in separate] == together.runs
    for v, s in zip(vmapped, separate, strict=True):
        assert v.losses.shape == s.losses.shape == (60,)
        np.testing.assert_allclose(v.losses, s.losses, rtol=1e-5)
        assert v.metrics.keys() == s.metrics.keys()
        for k in ("train_loss", "dev_loss", "test_loss"):
            np.testing.assert_allclose(v.metrics[k], s.metrics[k], rtol=1e-5)
        assert v.metrics["diverged_at_step"] == s.metrics["diverged_at_step"] == -1
    # The runs differ from each other: equal rows would pass trivially.
    assert len({round(r.metrics["test_loss"], 6) for r in vmapped}) == len(vmapped)


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_the_recipe_writes_the_rows_table(names_file, tmp_path):
    config = tmp_path / "rows.py"
    config.write_text(
        "from tests.train.test_makemore_table import ROWS\n"
        "from train.makemore.configs import quick\n"
        "def get_config():\n"
        "    c = quick.get_config()\n"
        "    c.num_steps, c.chunk_steps, c.lr_find_steps = 40, 20, 0\n"
        "    c.rows = [dict(r) for r in ROWS]\n"
        "    c.sweep = {'seed': [0, 1]}\n"
        "    return c\n"
    )
    out = tmp_path / "run"
    argv = ["makemore", f"--config={config}", f"--workdir={out}"]
    assert main([*argv, f"--config.data_path={names_file}"]) == 0
    md = (out / "sweep.md").read_text().splitlines()
    header = "| n_hidden | n_embd | batch_size | learning_rate | seed | train_loss | dev_loss"
    assert md[0] == header + " | test_loss | diverged_at_step |"
    assert md[1] == "|---|---|---|---|---|---|---|---|---|"
    assert len(md) == 2 + 6
    cells = [line.strip("| ").split(" | ") for line in md[2:]]
    assert [c[:5] for c in cells[:2]] == [
        ["8", "4", "16", "0.2", "0"],
        ["8", "4", "16", "0.2", "1"],
    ]
    csv = (out / "sweep.csv").read_text().splitlines()
    assert csv[0] == ",".join(md[0].strip("| ").split(" | "))
    assert [line.split(",") for line in csv[1:]] == cells  # the same table twice
    summary = json.loads((out / "summary.json").read_text())
    for cell, row in zip(cells, summary["table"], strict=True):
        assert float(cell[7]) == row["test_loss"] and np.isfinite(row["test_loss"])
    # Rows 0 and 2 share a program: the same wall time; row 1 has its own.
    times = summary["program_time_s"]
    assert times[0] == times[1] == times[4] == times[5] > 0 and times[2] == times[3] > 0
    assert summary["metrics"]["num_runs"] == 6 and summary["metrics"]["num_programs"] == 2


def test_the_seed_table_config_has_its_15_rows():
    c = table.get_config()
    plan_runs = [
        dataclasses.replace(CharLMRun(), **row, seed=seed) for row in c.rows for seed in (0, 1)
    ]
    assert len(c.rows) == 15 and list(c.sweep["seed"]) == [0, 1]
    assert c.rows[9] == {
        "block_size": 4,
        "n_hidden": 300,
        "n_embd": 14,
        "num_steps": 400_000,
        "batch_size": 40,
    }
    assert sum(r["num_steps"] for r in c.rows) == 3_020_000
    # Every row has its own shape: 15 programs of 2 seeds each.
    assert [len(g) for g in group_by_shape(plan_runs)] == [2] * 15


def test_table_report_puts_the_seed_beside_the_runs(tmp_path):
    from train.makemore.table_report import report

    vmapped, separate = tmp_path / "vmapped", tmp_path / "separate"
    for d in (vmapped, separate):
        d.mkdir()
        (d / "run.json").write_text("{}")
    rows = [
        {**dict(zip(table.FIELDS, ref[:5], strict=True)), "seed": seed}
        | {"train_loss": 2.0, "dev_loss": 2.1, "test_loss": ref[5] + 0.01 * (seed + 1)}
        for ref in table.SEED_TABLE
        for seed in (0, 1)
    ]
    metrics = {"num_runs": 30, "num_programs": 15, "sweep_time_s": 100.0}
    (vmapped / "summary.json").write_text(
        json.dumps({"table": rows, "metrics": metrics, "wall_time_s": 101.0})
    )
    loss = np.full((2, 5), 2.5, np.float32)
    for g in range(15):
        np.savez(vmapped / f"step_metrics-group{g}.npz", loss=loss)
    for n in range(5):  # rows 1 and 2 finished alone; run 4 was still training
        np.savez(separate / f"step_metrics-run{n}.npz", loss=loss[0] * (1 + 1e-6 * n))
    text = report(vmapped, separate).splitlines()
    assert text[0].startswith("| # | block_size | n_hidden | n_embd | num_steps | batch_size |")
    assert text[3] == (
        "| 2 | 4 | 10 | 2 | 20,000 | 16 | 2.5306 | 2.5406 | 2.5506 | +0.0150 | 2.1000 | 2.0000 |"
    )
    assert "30 runs in 15 programs, `sweep_time_s` 100 s" in text[18]
    assert text[19].startswith("Separate: 4 of 30 runs finished; the 2 rows whose 2 runs")
    assert text[-1].endswith("largest relative difference 3.0e-06.")
