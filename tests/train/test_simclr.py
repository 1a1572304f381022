"""The simclr recipe on the tiny IDX data from conftest."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main
from train.cli_config import ConfigError
from train.simclr.configs import quick
from train.simclr.train import train_and_evaluate


@pytest.mark.slow
def test_quick_run(tiny_fmnist, tmp_path):
    args = ["simclr", "--config=quick", f"--workdir={tmp_path}", f"--config.data_dir={tiny_fmnist}"]
    assert main(args) == 0
    m = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    for name in ("simclr", "random_encoder", "pixels"):
        assert 0.0 <= m[f"{name}_probe_all_labels"] <= 1.0
        assert 0.0 <= m[f"{name}_probe_5_per_class"] <= 1.0
    # The tiny data's classes are bright row bands: raw pixels separate them well.
    assert m["pixels_probe_all_labels"] > 0.5
    assert (tmp_path / "representation.png").stat().st_size > 1000


def test_an_unknown_readout_fails_before_training(tmp_path):
    config = quick.get_config()
    config.readout = "sum"
    with pytest.raises(ConfigError, match="config.readout is 'sum'"):
        train_and_evaluate(config, tmp_path)
    assert not (tmp_path / "checkpoints").exists()
