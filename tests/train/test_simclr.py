"""The simclr recipe on the tiny IDX data from conftest."""

from __future__ import annotations

import json

from train.__main__ import main


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
