"""The makemore recipe through the entry point, on a small word list."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.charlm.test_charlm import WORDS
from train.__main__ import main


@pytest.fixture
def names_file(tmp_path: Path) -> Path:
    path = tmp_path / "names.txt"
    path.write_text("\n".join(WORDS * 3) + "\n")
    return path


def run(names_file: Path, workdir: Path, *extra: str) -> int:
    return main(
        [
            "makemore",
            "--config=quick",
            f"--workdir={workdir}",
            f"--config.data_path={names_file}",
            *extra,
        ]
    )


def test_quick_run_leaves_its_artefacts(names_file, tmp_path):
    assert run(names_file, tmp_path / "run") == 0
    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    assert {"train_loss", "dev_loss", "test_loss", "lr_find_suggestion"} <= set(summary["metrics"])
    assert summary["recipe"] == "makemore" and summary["config"]["num_steps"] == 600
    samples = (out / "samples.txt").read_text().split()
    assert len(samples) == 5 and all(s.endswith(".") for s in samples)
    for png in ("loss_curve.png", "embedding.png", "lr_find.png"):
        assert (out / png).stat().st_size > 1000
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3  # 600 steps / 200


def test_a_resumed_run_ends_where_the_whole_run_ends(names_file, tmp_path):
    out = tmp_path / "run"
    assert run(names_file, out) == 0
    whole = json.loads((out / "summary.json").read_text())["metrics"]
    with np.load(out / "step_metrics.npz") as f:
        losses = f["loss"]
    # As if the run had been stopped before its last checkpoint (epoch 3 of 3).
    newest = max(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit())
    assert newest == 600  # keyed by step
    shutil.rmtree(out / "checkpoints" / str(newest))
    assert run(names_file, out, "--config.resume=true") == 0
    resumed = json.loads((out / "summary.json").read_text())["metrics"]
    for key in ("train_loss", "dev_loss", "test_loss", "lr_find_suggestion"):
        assert resumed[key] == whole[key]
    with np.load(out / "step_metrics.npz") as f:
        np.testing.assert_array_equal(f["loss"], losses)
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3


@pytest.mark.slow  # a minute on a busy 2-core CPU: compiling the GPT's step and sampler
def test_transformer_quick_run_samples_through_the_cache(names_file, tmp_path):
    out = tmp_path / "gpt"
    argv = ["makemore", "--config=transformer_quick", f"--workdir={out}"]
    # With a moving average of the weights: the average is evaluated, the last weights too.
    assert main([*argv, f"--config.data_path={names_file}", "--config.ema_decay=0.9"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    metrics = summary["metrics"]
    # 200 AdamW steps move the loss well below the uniform guess (log 27 = 3.30).
    assert metrics["train_loss"] < 3.0 and metrics["test_loss"] < 3.2
    assert metrics["test_loss_last_weights"] < 3.2
    assert metrics["test_loss"] != metrics["test_loss_last_weights"]
    assert summary["config"]["model"] == "transformer" and summary["num_params"] > 0
    samples = (out / "samples.txt").read_text().split()
    # The cached sampler's rows: at most block_size characters and the closing '.'.
    assert len(samples) == 5 and all(s.endswith(".") and len(s) <= 17 for s in samples)
    assert (out / "embedding.png").stat().st_size > 1000


def test_sweep_config_writes_the_table(names_file, tmp_path):
    config = tmp_path / "sweep.py"
    config.write_text(
        "from train.makemore.configs import quick\n"
        "def get_config():\n"
        "    c = quick.get_config()\n"
        "    c.num_steps = 100\n"
        "    c.sweep = {'n_hidden': [8, 16], 'learning_rate': [0.05, 0.1]}\n"
        "    return c\n"
    )
    out = tmp_path / "run"
    assert (
        main(
            [
                "makemore",
                f"--config={config}",
                f"--workdir={out}",
                f"--config.data_path={names_file}",
            ]
        )
        == 0
    )
    rows = (out / "sweep.csv").read_text().splitlines()
    assert rows[0] == "learning_rate,n_hidden,train_loss,dev_loss,test_loss,diverged_at_step"
    assert len(rows) == 5
    assert (out / "sweep.md").read_text().startswith("| learning_rate | n_hidden |")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--config.block_size=0"], "config.block_size is 0, expected >= 1."),
        (
            ["--config.model=rnn"],
            "config.model is 'rnn', expected 'mlp', 'wavenet' or 'transformer'.",
        ),
        (
            ["--config.model=transformer", "--config.n_embd=10"],
            "config.n_embd is 10, expected a multiple of n_head (4) for narrow heads (head_dim 0).",
        ),
    ],
)
def test_bad_config_is_one_sentence(names_file, tmp_path, capsys, extra, expected):
    assert run(names_file, tmp_path, *extra) == 2
    assert capsys.readouterr().err.strip() == f"error: {expected}"


def test_bad_word_lists_are_one_sentence(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert run(empty, tmp_path / "a") == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("is empty; a language model needs at least one word.")
    )
    accents = tmp_path / "accents.txt"
    accents.write_text("zoë\n")
    assert run(accents, tmp_path / "b") == 1
    err = capsys.readouterr().err.strip()
    assert "'zoë' has the character 'ë'" in err and "\n" not in err
