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
        ("autoencoder", "autoencoder_latents.png", "test_recon_nll"),
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
        "error: config.model is 'flow', expected one of vae, autoencoder, inpaint, vqvae, gan."
    )


@pytest.mark.slow
def test_mc_vs_vi_on_a_trained_vae(tiny_fmnist, tmp_path):
    """The inference script reads a VAE run and writes its table, figure and JSON."""
    from train.generative import inference

    common = [f"--config.data_dir={tiny_fmnist}", "--config.train_examples=64"]
    assert main(["generative", "--config=quick", f"--workdir={tmp_path}", *common]) == 0
    assert (tmp_path / "vae_latents.png").stat().st_size > 500
    args = [str(tmp_path), "--images=4", "--repeats=3", "--ks=1,10", "--reference-k=40"]
    assert inference.main(args) == 0
    result = json.loads((tmp_path / "mc_vs_vi.json").read_text())
    assert {(r["k"], r["estimator"]) for r in result["rows"]} == {
        (k, e) for k in (1, 10) for e in ("elbo", "iwae", "prior")
    }
    assert all(math.isfinite(r["mean"]) and r["spread"] >= 0 for r in result["rows"])
    # One sample: the IWAE estimate is the ELBO's single log weight, the same number.
    one = {r["estimator"]: r["mean"] for r in result["rows"] if r["k"] == 1}
    assert one["elbo"] == pytest.approx(one["iwae"], rel=1e-6)
    assert "| 10 |" in (tmp_path / "mc_vs_vi.md").read_text()
    assert (tmp_path / "mc_vs_vi.png").stat().st_size > 500


def test_bound_order_and_table_of_a_written_result():
    from train.generative import inference

    def rows(elbo, iwae):
        return [
            {"k": k, "estimator": e, "mean": m, "bias": 0.0, "spread": 1.0}
            for k, a, b in zip((1, 10, 100), elbo, iwae, strict=True)
            for e, m in (("elbo", a), ("iwae", b), ("prior", -900.0))
        ]

    good = {
        "reference": -240.0,
        "reference_k": 5000,
        "rows": rows((-250, -251, -250.5), (-250, -245, -242)),
    }
    assert inference.bound_order_holds(good)
    # IWAE must rise with K and stay under the reference; the ELBO must stay under both.
    for elbo, iwae in (((-250, -251, -244), (-250, -245, -242)), ((-250,) * 3, (-250, -242, -245))):
        assert not inference.bound_order_holds(good | {"rows": rows(elbo, iwae)})
    table = inference.markdown(good)
    assert table.splitlines()[2].startswith("| 1 | -250.00 | 0.00 | 1.00 | -250.00 |")
    assert "K = 5000, mean -240.00" in table
