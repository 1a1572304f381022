"""The sequences recipe (CTC and the seq2seq adder) through the entry point, tiny settings."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main


@pytest.mark.slow
def test_quick_run_leaves_its_artefacts(tmp_path):
    out = tmp_path / "run"
    assert main(["sequences", "--config=quick", f"--workdir={out}"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    metrics = summary["metrics"]
    assert summary["recipe"] == "sequences"
    assert metrics["test_label_error_rate"] >= 0.0
    for mode in ("teacher_forced", "open_loop"):
        for unit in ("token", "sequence"):
            assert 0.0 <= metrics[f"test_{mode}_{unit}_accuracy"] <= 1.0
    # By construction a fully right teacher-forced answer is generated identically.
    assert (metrics["test_open_loop_sequence_accuracy"]
            == metrics["test_teacher_forced_sequence_accuracy"])  # fmt: skip
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["task"] for r in records] == ["ctc"] * 2 + ["seq2seq"] * 2  # 20 steps / 10
    for png in ("ctc_curves.png", "seq2seq_curves.png"):
        assert (out / png).stat().st_size > 1000
