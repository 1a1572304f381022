"""The transformer recipe, scaled through config only: bf16, checkpointed blocks,
micro-batches and a (one-device) mesh in one quick run."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main


@pytest.mark.slow
def test_quick_run_with_every_scale_switch(tmp_path):
    args = [
        "name_sex",
        "--config=quick",
        f"--workdir={tmp_path}",
        "--config.precision=bfloat16",
        "--config.remat=nothing",
        "--config.accum_steps=2",
        "--config.mesh=data=1",
        "--config.num_epochs=1",
    ]
    assert main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    m = summary["metrics"]
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["test_loss"] > 0
    assert 0.5 <= m["majority_baseline"] <= 1.0
    assert summary["config"]["remat"] == "nothing"


def test_wrong_mesh_is_one_line(tmp_path, capsys):
    assert (
        main(["name_sex", "--config=quick", f"--workdir={tmp_path}", "--config.mesh=data=3"]) != 0
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: mesh 'data=3' asks for 3 devices, but there are 1"), err
