"""The adversarial recipe on the tiny IDX data from conftest."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main


@pytest.mark.slow
def test_quick_run(tiny_fmnist, tmp_path):
    args = [
        "adversarial",
        "--config=quick",
        f"--workdir={tmp_path}",
        f"--config.classifier.data_dir={tiny_fmnist}",
        "--config.num_images=8",
    ]
    assert main(args) == 0
    m = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    assert m["pgd_linf"] <= 0.1 + 1e-6
    for k in ("fgsm_success", "pgd_success", "targeted_success"):
        assert 0.0 <= m[k] <= 1.0
    assert (tmp_path / "attacks.png").stat().st_size > 1000
    assert (tmp_path / "classifier" / "summary.json").exists()
