"""The simclr recipe on the tiny IDX data from conftest."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from train.__main__ import main
from train.cli_config import ConfigError
from train.simclr.configs import quick
from train.simclr.train import build_encoder


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


def test_readouts():
    model = build_encoder(quick.get_config(), jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (3, 28, 28, 1))
    maps = np.asarray(model.feature_maps(x))  # (3, 7, 7, 16)
    both = np.asarray(model.representation(x, readout="avg_max"))
    assert both.shape == (3, 2 * maps.shape[-1])
    np.testing.assert_allclose(both[:, : maps.shape[-1]], maps.mean((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(both[:, maps.shape[-1] :], maps.max((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(model.representation(x), model.features(x), rtol=1e-6)
    with pytest.raises(ConfigError, match="readout is 'sum'"):
        model.representation(x, readout="sum")
