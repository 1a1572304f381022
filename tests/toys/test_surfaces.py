"""Optimiser trajectories."""

from __future__ import annotations

import json

import numpy as np
import optax
import pytest

from jaxdl.toys.surfaces import SURFACES, trajectories
from train.__main__ import main


def test_sgd_on_the_bowl_follows_the_closed_form():
    starts = np.array([[1.0, 1.0], [-2.0, 0.5]], np.float32)
    paths = trajectories({"bowl": SURFACES["bowl"]}, {"sgd": optax.sgd(0.05)}, starts, num_steps=10)
    p = np.asarray(paths["bowl"]["sgd"])
    assert p.shape == (2, 11, 2)
    k = np.arange(11)
    expected = starts[:, None, :] * np.stack([(1 - 0.05) ** k, (1 - 0.5) ** k], -1)
    np.testing.assert_allclose(p, expected, rtol=1e-5)


def test_recipe_writes_the_plot(tmp_path):
    assert main(["optimizers", "--config=quick", f"--workdir={tmp_path}"]) == 0
    assert (tmp_path / "trajectories.png").stat().st_size > 5000
    metrics = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    assert len(metrics) == 12  # 2 surfaces x 6 optimisers
    # From a mean starting loss of 49.8 on the bowl, every optimiser descends.
    assert all(v < 20 for k, v in metrics.items() if k.startswith("bowl_"))


def test_bad_starts_and_surfaces(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"starts has shape \(3,\), expected \(num_starts, 2\)"):
        trajectories(SURFACES, {"sgd": optax.sgd(0.1)}, np.zeros(3), num_steps=2)
    assert (
        main(
            [
                "optimizers",
                "--config=quick",
                f"--workdir={tmp_path}",
                "--config.surfaces=('bowl','beale')",
            ]
        )
        == 1
    )
    assert "config.surfaces has ['beale']" in capsys.readouterr().err
