"""The generative recipe through the entry point, on the tiny IDX data from conftest."""

from __future__ import annotations

import json
import math

import pytest

from train.__main__ import main


@pytest.mark.parametrize(
    ("model", "artefact", "metric"),
    [
        ("inpaint", "inpainting.png", "patch_mse_vs_mean_image"),
        ("vqvae", "vqvae_reconstructions.png", "test_perplexity"),
        ("gan", "gan_samples.png", "train_d_loss"),
    ],
)
@pytest.mark.slow
def test_quick_runs(tiny_fmnist, tmp_path, model, artefact, metric):
    args = [
        "generative",
        "--config=quick",
        f"--config.model={model}",
        f"--workdir={tmp_path}",
        f"--config.data_dir={tiny_fmnist}",
        "--config.train_examples=64",
    ]
    assert main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert metric in summary["metrics"]
    assert (tmp_path / artefact).stat().st_size > 500
    # One metrics.jsonl line per epoch (the quick config trains one), whatever the loop.
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1]
    loss = "train_d_loss" if model == "gan" else "train_loss"
    assert math.isfinite(records[0][loss])


def test_unknown_model_is_one_sentence(tiny_fmnist, tmp_path, capsys):
    assert (
        main(
            [
                "generative",
                "--config=quick",
                "--config.model=flow",
                f"--workdir={tmp_path}",
                f"--config.data_dir={tiny_fmnist}",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.strip() == (
        "error: config.model is 'flow', expected one of vae, inpaint, vqvae, gan."
    )
