"""The learning_curves recipe through the entry point."""

from __future__ import annotations

import json
import re

import pytest

from jaxdl.training.diagnostics import diagnose
from train.__main__ import main, recipes
from train.learning_curves.configs import quick


@pytest.mark.slow
def test_quick_run_writes_the_figure_and_a_diagnosis_per_model(tmp_path, capsys):
    assert main(["learning_curves", "--config=quick", f"--workdir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "learning_curves.png").stat().st_size > 5000
    results = json.loads((tmp_path / "results.json").read_text())
    config = quick.get_config()
    assert list(results["models"]) == list(config.models)
    for name, m in results["models"].items():
        evaluations = config.num_steps // config.eval_every
        assert m["steps"] == [config.eval_every * (i + 1) for i in range(evaluations)]
        assert len(m["train_error"]) == evaluations and len(m["val_error"][0]) == 3
        # The printed verdict is the rule applied to the stored final errors.
        expected = diagnose(
            m["train_error"][-1], m["val_error"][-1], target_error=config.target_error
        )
        assert m["diagnosis"] == expected.verdict.value
        assert f"diagnosis {name}: {expected.verdict.value} (" in out
    # On CPU the MLP's sizes are one vmapped program, the CNN's run in turn.
    assert results["models"]["mlp_dropout"]["vmapped"] is True
    assert results["models"]["cnn"]["vmapped"] is False
    assert "| 128 |" in (tmp_path / "results.md").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["metrics"]) == {
        f"{m}_{s}_error" for m in config.models for s in ("train", "val")
    }


def test_recipe_is_listed():
    assert "learning_curves" in recipes()


@pytest.mark.parametrize(
    "override, message",
    [
        ("--config.sizes=(100,50)", r"config.sizes is \[100, 50\], expected strictly growing"),
        ("--config.sizes=(100,60000)", r"in \[1, 59936\]"),
        ("--config.models=('mlp','rnn')", r"config.models is \('mlp', 'rnn'\)"),
        ("--config.num_steps=25", "config.num_steps is 25, expected a multiple"),
        ("--config.vmap=yes", "config.vmap is 'yes'"),
        ("--config.mesh=runs=2", "mesh 'runs=2'"),  # two devices named, one here
    ],
)
def test_bad_configs_are_one_sentence(tmp_path, capsys, override, message):
    args = ["learning_curves", "--config=quick", f"--workdir={tmp_path}", override]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and re.search(message, err), err


@pytest.mark.slow
def test_sizes_split_over_a_runs_mesh_match_one_device(tmp_path):
    """--config.mesh=runs=3 puts one size on each of 3 simulated devices."""
    import os
    import subprocess
    import sys

    errors = {}
    for devices, mesh in ((1, ""), (3, "runs=3")):
        env = os.environ | {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
        workdir = tmp_path / f"d{devices}"
        args = [sys.executable, "-m", "train", "learning_curves", "--config=quick",
                f"--workdir={workdir}", "--config.models=('mlp_dropout',)",
                f"--config.mesh={mesh}"]  # fmt: skip
        subprocess.run(args, check=True, env=env, capture_output=True, timeout=600)
        model = json.loads((workdir / "results.json").read_text())["models"]["mlp_dropout"]
        errors[devices] = (model["train_error"], model["val_error"])
    assert errors[3] == errors[1]  # errors of 64 examples: counts, equal to the example
    # Only the sizes are split: a data axis is refused in one sentence.
    args[-1] = "--config.mesh=data=3"
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 2
    assert "expected only a runs axis (runs=N)" in out.stderr, out.stderr
