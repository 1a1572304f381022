"""train.ddpm.inpaint end to end: quick ddpm, autoencoder and classifier runs on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from train.__main__ import main
from train.cli_config import ConfigError
from train.ddpm import inpaint


@pytest.fixture(scope="module")
def runs(tiny_fmnist, tmp_path_factory):
    ddpm, ae, cnn = (tmp_path_factory.mktemp(n) for n in ("ddpm", "ae", "cnn"))
    data = f"--config.data_dir={tiny_fmnist}"
    assert main(["ddpm", "--config=quick", f"--workdir={ddpm}", data, "--config.seed=3"]) == 0
    assert (
        main(["generative", "--config=quick", "--config.model=inpaint", f"--workdir={ae}", data])
        == 0
    )
    assert (
        main(["fashion_mnist", "--config=quick", f"--workdir={cnn}", data, "--config.num_epochs=6"])
        == 0
    )
    return ddpm, ae, cnn


@pytest.mark.slow
def test_inpaint_scores_every_filler_on_the_same_images(runs, tmp_path):
    ddpm, ae, cnn = runs
    result = inpaint.inpaint_eval(
        ddpm,
        ae,
        cnn,
        num_images=12,
        num_steps=4,
        resample=2,
        jump=1,
        guidance_scales=(1.0, 2.0),
        batch_size=8,  # two batches, the second one short
        out=tmp_path,
        progress=False,
    )
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == [
        "originals (nothing masked)",
        "mean training image in the patch",
        "in-painting autoencoder",
        "DDPM RePaint, guidance 1",
        "DDPM RePaint, guidance 2",
    ]
    assert rows["originals (nothing masked)"]["patch_mse"] == 0.0
    for r in result["rows"][1:]:
        assert 0.0 < r["patch_mse"] < 1.0 and np.isfinite(r["fd"]) and 0 <= r["accuracy"] <= 1
    # 4 levels, each of the lower 3 denoised twice: 4 + 3 = 7 calls, 4 + 2 * 3 = 10 moves.
    assert result["repaint"]["denoiser_calls_per_image"] == 7
    assert result["repaint"]["moves"] == 10
    assert rows["DDPM RePaint, guidance 2"]["network_calls"] == 14
    # The two guidance scales draw different fills of the same masked images.
    assert (
        rows["DDPM RePaint, guidance 1"]["patch_mse"]
        != rows["DDPM RePaint, guidance 2"]["patch_mse"]
    )
    saved = json.loads((tmp_path / "inpainting.json").read_text())
    assert saved["rows"] == result["rows"] and saved["num_images"] == 12
    table = (tmp_path / "inpainting.md").read_text()
    assert table.count("\n| ") == 6 and "| in-painting autoencoder |" in table
    assert (tmp_path / "inpainting.png").stat().st_size > 200


@pytest.mark.slow
def test_inpaint_refuses_a_run_that_is_not_the_inpainting_autoencoder(runs, tmp_path):
    ddpm, _, cnn = runs
    with pytest.raises(ConfigError, match="expected the in-painting autoencoder"):
        inpaint.inpaint_eval(ddpm, ddpm, cnn, num_images=2, out=tmp_path, progress=False)


def test_markdown_table_lists_every_row():
    result = {
        "num_images": 3,
        "patch_size": 6,
        "repaint": {
            "num_steps": 5,
            "resample": 2,
            "jump": 1,
            "eta": 1.0,
            "denoiser_calls_per_image": 9,
        },
        "rows": [
            {"method": "a", "patch_mse": 0.0, "fd": 1.0, "accuracy": 1.0},
            {
                "method": "b",
                "patch_mse": 0.05,
                "fd": 2.5,
                "accuracy": 0.5,
                "network_calls": 9,
                "wall_time_s": 3.0,
            },
        ],
    }
    table = inpaint.markdown_table(result)
    assert "| a | 0.0000 | 1.00 | 1.000 | - | - |" in table
    assert "| b | 0.0500 | 2.50 | 0.500 | 9 | 3.0 |" in table
    assert "resample 2, jump 1" in table
