"""Optimiser trajectories on the 2-D surfaces."""

from __future__ import annotations

import numpy as np
import optax
import pytest

from jaxdl.surfaces import (
    SURFACES,
    default_optimizers,
    default_starts,
    plot_trajectories,
    trajectories,
)


def test_sgd_on_the_bowl_follows_the_closed_form():
    starts = np.array([[1.0, 1.0], [-2.0, 0.5]], np.float32)
    paths = trajectories({"bowl": SURFACES["bowl"]}, {"sgd": optax.sgd(0.05)}, starts, num_steps=10)
    p = np.asarray(paths["bowl"]["sgd"])
    assert p.shape == (2, 11, 2)
    k = np.arange(11)
    expected = starts[:, None, :] * np.stack([(1 - 0.05) ** k, (1 - 0.5) ** k], -1)
    np.testing.assert_allclose(p, expected, rtol=1e-5)


def test_bad_starts():
    with pytest.raises(ValueError, match=r"starts has shape \(3,\), expected \(num_starts, 2\)"):
        trajectories(SURFACES, {"sgd": optax.sgd(0.1)}, np.zeros(3), num_steps=2)


def test_plot_leaves_the_global_backend_alone(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    paths = trajectories(SURFACES, default_optimizers(), default_starts(), num_steps=3)
    out = plot_trajectories(paths, SURFACES, tmp_path / "t.png")
    assert out == str(tmp_path / "t.png") and (tmp_path / "t.png").stat().st_size > 5000
    assert matplotlib.get_backend() == backend
