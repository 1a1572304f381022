"""jaxdl.viz draws on Figure objects: files appear, pyplot and the backend stay untouched."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from matplotlib import image as mpl_image

from jaxdl import viz
from jaxdl.data.augment import gallery


def test_image_grid_tiles_row_by_row():
    images = np.arange(5 * 2 * 3).reshape(5, 2, 3, 1)
    grid = viz.image_grid(images, nrow=2)
    assert grid.shape == (4, 6)  # the fifth image does not fill a row
    np.testing.assert_array_equal(grid[:2, 3:], images[1, ..., 0])
    np.testing.assert_array_equal(grid[2:, :3], images[2, ..., 0])
    with pytest.raises(ValueError, match=r"images has shape \(5, 2\)"):
        viz.image_grid(np.zeros((5, 2)))


def test_save_grid_writes_one_pixel_per_image_pixel(tmp_path):
    images = np.linspace(0, 1, 4 * 28 * 28).reshape(4, 28, 28, 1)
    path = viz.save_grid(images, tmp_path / "g.png", 2)
    png = mpl_image.imread(path)
    assert png.shape[:2] == (56, 56)
    assert png[0, 0, 0] > png[-1, -1, 0]  # gray_r: low values are light
    with pytest.raises(ValueError, match="expected at least nrow=8"):
        viz.save_grid(images, tmp_path / "h.png")


def test_plot_curves(tmp_path):
    history = [
        {"epoch": 1, "train_loss": 1.0, "test_loss": 1.2, "test_accuracy": 0.5},
        {"epoch": 2, "train_loss": 0.5, "test_loss": 0.9, "test_accuracy": 0.7},
    ]
    path = viz.plot_curves(history, tmp_path / "c.png")
    assert path == tmp_path / "c.png" and path.stat().st_size > 1000
    assert viz.plot_curves([{"epoch": 1}], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_training_still_exports_plot_curves():
    from jaxdl.training import logging, plot_curves

    assert plot_curves is viz.plot_curves is logging.plot_curves


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_every_plot_writes_its_png(tmp_path):
    rng = np.random.default_rng(0)
    written = [
        viz.plot_losses({"a": rng.random(50) + 1, "b": rng.random(50) + 1}, tmp_path / "l.png"),
        viz.plot_lr_find(
            np.geomspace(1e-4, 1, 20), rng.random(20), rng.random(20), 0.01, tmp_path / "f.png"
        ),
        viz.plot_band(np.arange(5), rng.random((3, 5)), tmp_path / "b.png", title="returns"),
        viz.plot_embedding(rng.random((4, 3)), "abcd", tmp_path / "e.png"),
        viz.scatter_classes(rng.random((20, 5)), np.arange(20) % 2, ["x", "y"], tmp_path / "s.png"),
        viz.save_image_table(
            [[rng.random((28, 28)), rng.random((28, 28, 1))]] * 2,
            tmp_path / "sub" / "t.png",
            titles=[["a", "b"], ["c", "d"]],
            title="table",
        ),
        viz.save_augmentations(
            jax.numpy.asarray(rng.random((2, 28, 28, 1)), jax.numpy.float32),
            gallery(pipeline=lambda key, image: image),
            tmp_path / "aug.png",
            key=jax.random.key(0),
        ),
    ]
    for path in written:
        assert path.stat().st_size > 1000, path


def test_shape_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"ys has shape \(5,\)"):
        viz.plot_band(np.arange(5), np.arange(5), tmp_path / "b.png")
    with pytest.raises(ValueError, match=r"labels has shape \(3,\), expected \(4,\)"):
        viz.scatter_classes(np.zeros((4, 2)), np.zeros(3), ["a"], tmp_path / "s.png")
    with pytest.raises(ValueError, match="images has rows of lengths"):
        viz.save_image_table([[np.zeros((2, 2))], []], tmp_path / "t.png")
    with pytest.raises(ValueError, match="nrows, ncols are 0, 1"):
        viz.figure(0, 1, figsize=(1, 1))


def test_no_pyplot_and_no_backend_switch(tmp_path):
    """In a fresh process: drawing imports no pyplot and leaves the configured backend."""
    code = f"""
import sys
import matplotlib
before = matplotlib.get_backend()
from jaxdl import viz
viz.plot_curves([{{"epoch": 1, "train_loss": 1.0}}], r"{tmp_path / "c.png"}")
viz.save_grid([[[0.0]]] * 8, r"{tmp_path / "g.png"}")
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())
"""
    env_backend = "module://matplotlib_inline.backend_inline"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "MPLBACKEND": env_backend},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
