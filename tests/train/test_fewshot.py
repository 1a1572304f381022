"""The few-shot recipe through the entry point on tiny data, and its config checks."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main


@pytest.mark.slow
def test_quick_run_reports_unseen_seen_and_pixel_accuracy(tiny_fmnist, tmp_path):
    out = tmp_path / "run"
    # cl2n (not the default) so that one run goes through every evaluation step.
    args = ["fewshot", "--config=quick", f"--config.data_dir={tiny_fmnist}", f"--workdir={out}",
            "--config.feature_transform=cl2n"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recipe"] == "fewshot"
    for prefix in ("test", "val", "seen", "pixels"):
        assert 0.0 <= summary["metrics"][f"{prefix}_5way_1shot"] <= 1.0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6]  # one record per chunk of 3 steps
    assert (out / "curves.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "override, message",
    [("test_classes=(4, 5, 6, 7, 8)", "overlap"),
     ("feature_transform=zca", "config.feature_transform is 'zca'"),
     ("loss=hinge", "config.loss is 'hinge'")],
)  # fmt: skip
def test_bad_settings_are_one_sentence(tiny_fmnist, tmp_path, capsys, override, message):
    args = ["fewshot", "--config=quick", f"--config.data_dir={tiny_fmnist}",
            f"--config.{override}", f"--workdir={tmp_path}"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
