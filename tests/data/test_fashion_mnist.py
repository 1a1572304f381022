"""Tests for the Fashion-MNIST loader and its source resolution."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import types

import numpy as np
import pytest

from jaxdl.data import fashion_mnist as fm
from jaxdl.data.idx import IDXFormatError, write_idx

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
REAL_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
N_TRAIN, N_TEST = 5, 3


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Hides the real data, $JAXDL_DATA_DIR and TFDS so results depend only on the test."""
    monkeypatch.delenv(fm.ENV_VAR, raising=False)
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(tmp_path / "no-debian"))
    # None in sys.modules makes `import tensorflow_datasets` raise ImportError: no network.
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


def make_dataset(folder: pathlib.Path, marker: int = 0, gz: bool = True) -> pathlib.Path:
    """Writes a tiny dataset whose pixels all equal ``marker`` (to tell sources apart)."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte{suffix}", np.full((n, 28, 28), marker, np.uint8)
        )
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8) + 5)
    return folder


def test_class_names():
    assert len(fm.CLASS_NAMES) == 10
    assert fm.CLASS_NAMES[0] == "T-shirt/top"
    assert fm.CLASS_NAMES[9] == "Ankle boot"


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(("split", "n"), [("train", N_TRAIN), ("test", N_TEST)])
def test_load_from_data_dir(tmp_path, gz, split, n):
    make_dataset(tmp_path / "d", marker=7, gz=gz)
    images, labels = fm.load_fashion_mnist(split, data_dir=tmp_path / "d")
    assert images.shape == (n, 28, 28)
    assert images.dtype == np.uint8
    assert (images == 7).all()
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, np.arange(n) + 5)


def test_resolution_order(tmp_path, monkeypatch):
    arg, env, debian = (
        make_dataset(tmp_path / name, m) for name, m in [("a", 1), ("e", 2), ("d", 3)]
    )
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(debian))
    monkeypatch.setenv(fm.ENV_VAR, str(env))
    assert fm.load_fashion_mnist(data_dir=arg)[0][0, 0, 0] == 1
    assert fm.resolve_data_dir(arg) == arg
    assert fm.load_fashion_mnist()[0][0, 0, 0] == 2
    assert fm.resolve_data_dir() == env
    monkeypatch.delenv(fm.ENV_VAR)
    assert fm.load_fashion_mnist()[0][0, 0, 0] == 3
    assert fm.resolve_data_dir() == debian


def test_env_subfolder(tmp_path, monkeypatch):
    make_dataset(tmp_path / "root" / "fashion-mnist", marker=4)
    monkeypatch.setenv(fm.ENV_VAR, str(tmp_path / "root"))
    assert fm.resolve_data_dir() == tmp_path / "root" / "fashion-mnist"
    assert fm.load_fashion_mnist("test")[0][0, 0, 0] == 4


def test_explicit_dir_does_not_fall_through(tmp_path, monkeypatch):
    monkeypatch.setenv(fm.ENV_VAR, str(make_dataset(tmp_path / "envdir")))
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(make_dataset(tmp_path / "debdir")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(fm.DataNotFoundError) as info:
        fm.load_fashion_mnist(data_dir=tmp_path / "empty")
    message = str(info.value)
    assert str(tmp_path / "empty") in message
    assert "train-images-idx3-ubyte" in message
    assert "envdir" not in message
    assert "debdir" not in message
    assert fm.resolve_data_dir(tmp_path / "empty") is None


def test_partial_dir_is_skipped(tmp_path, monkeypatch):
    partial = make_dataset(tmp_path / "p", marker=1)
    (partial / "train-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv(fm.ENV_VAR, str(partial))
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(make_dataset(tmp_path / "d", marker=3)))
    assert fm.resolve_data_dir() == tmp_path / "d"
    assert fm.load_fashion_mnist("train")[0][0, 0, 0] == 3
    # The test split is complete in the partial folder, so it is used for that split.
    assert fm.load_fashion_mnist("test")[0][0, 0, 0] == 1


def test_missing_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv(fm.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(fm.DataNotFoundError) as info:
        fm.load_fashion_mnist("test")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for fragment in [
        f"'{tmp_path / 'nowhere'}' (does not exist)",
        f"'{tmp_path / 'nowhere' / 'fashion-mnist'}' (does not exist)",
        f"'{fm.DEBIAN_DIR}' (does not exist)",
        "TensorFlow Datasets 'fashion_mnist' (ModuleNotFoundError",
        "`apt-get install dataset-fashion-mnist`",
        "set JAXDL_DATA_DIR",
    ]:
        assert fragment in message
    assert "\n" not in message
    assert fm.resolve_data_dir() is None


def test_missing_with_env_unset_says_so():
    with pytest.raises(fm.DataNotFoundError, match=r"\$JAXDL_DATA_DIR \(not set\)"):
        fm.load_fashion_mnist()


def test_tfds_failure_is_reported(monkeypatch):
    def boom(split):
        raise RuntimeError(f"cannot download {split}\nsecond line")

    monkeypatch.setattr(fm, "_load_from_tfds", boom)
    with pytest.raises(fm.DataNotFoundError, match=r"RuntimeError: cannot download train\);"):
        fm.load_fashion_mnist()


def test_tfds_fallback(monkeypatch):
    calls = []

    def load(name, **kwargs):
        calls.append((name, kwargs))
        return np.full((4, 28, 28, 1), 9, np.uint8), np.array([0, 1, 2, 9], np.int64)

    fake = types.SimpleNamespace(load=load, as_numpy=lambda x: x)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    images, labels = fm.load_fashion_mnist("test")
    assert calls == [("fashion_mnist", {"split": "test", "batch_size": -1, "as_supervised": True})]
    assert images.shape == (4, 28, 28)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, [0, 1, 2, 9])


def test_tfds_not_used_with_explicit_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "_load_from_tfds", lambda split: pytest.fail("TFDS was tried"))
    with pytest.raises(fm.DataNotFoundError):
        fm.load_fashion_mnist(data_dir=tmp_path)


@pytest.mark.parametrize(
    ("which", "array", "fragment"),
    [
        ("labels", np.array([0, 1, 10, 2, 3], np.uint8), "labels span 0..10"),
        ("labels", np.arange(4, dtype=np.uint8), "5 images but 4 labels"),
        ("labels", np.zeros((5, 1), np.uint8), "labels have shape (5, 1)"),
        ("labels", np.arange(5, dtype=np.float32), "labels have dtype float32"),
        ("images", np.zeros((5, 28, 27), np.uint8), "images have shape (5, 28, 27)"),
        ("images", np.zeros((5, 784), np.uint8), "images have shape (5, 784)"),
        ("images", np.zeros((5, 28, 28), np.int16), "images have dtype int16"),
    ],
)
def test_invalid_contents(tmp_path, which, array, fragment):
    folder = make_dataset(tmp_path / "d")
    suffix = "images-idx3" if which == "images" else "labels-idx1"
    write_idx(folder / f"train-{suffix}-ubyte.gz", array)
    with pytest.raises(IDXFormatError) as info:
        fm.load_fashion_mnist(data_dir=folder)
    message = str(info.value)
    assert fragment in message
    assert str(folder / "train-images-idx3-ubyte.gz") in message
    assert str(folder / "train-labels-idx1-ubyte.gz") in message


def test_corrupt_file_is_an_error_not_a_fallthrough(tmp_path, monkeypatch):
    folder = make_dataset(tmp_path / "e")
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bjunk")
    monkeypatch.setenv(fm.ENV_VAR, str(folder))
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(make_dataset(tmp_path / "d")))
    with pytest.raises(IDXFormatError, match="train-labels-idx1-ubyte.gz"):
        fm.load_fashion_mnist()


@pytest.mark.parametrize("split", ["validation", "TRAIN", "t10k"])
def test_split_validation(split):
    with pytest.raises(
        ValueError, match=rf"split must be one of \('train', 'test'\), got '{split}'"
    ):
        fm.load_fashion_mnist(split)


def test_real_data():
    if not fm.resolve_data_dir(REAL_DIR):
        pytest.skip(f"real Fashion-MNIST not installed in {REAL_DIR}")
    images, labels = fm.load_fashion_mnist("train", data_dir=REAL_DIR)
    assert images.shape == (60000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (60000,)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [6000] * 10)
    test_images, test_labels = fm.load_fashion_mnist("test", data_dir=REAL_DIR)
    assert test_images.shape == (10000, 28, 28)
    assert test_labels.shape == (10000,)
    assert images.max() == 255


def test_main_in_process(tmp_path, monkeypatch, capsys):
    assert fm.main(["--check"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "apt-get install dataset-fashion-mnist" in captured.err
    assert fm.DEBIAN_DIR in captured.err

    monkeypatch.setattr(fm, "DEBIAN_DIR", str(make_dataset(tmp_path / "d")))
    assert fm.main(["--check"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "d")


def test_cli_subprocess(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        fm.ENV_VAR: str(make_dataset(tmp_path / "e")),
    }
    cmd = [sys.executable, "-m", "jaxdl.data.fashion_mnist", "--check"]
    found = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(tmp_path / "e")
    # An explicit empty --data-dir never falls through, so this fails even if data is installed.
    (tmp_path / "empty").mkdir()
    missing = subprocess.run(
        [*cmd, "--data-dir", str(tmp_path / "empty")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert str(tmp_path / "empty") in missing.stderr
    assert "apt-get install dataset-fashion-mnist" in missing.stderr


def test_normalize_matches_the_training_statistics():
    images = np.array([[[0, 255] + [73] * 26] * 28], np.uint8)  # (1, 28, 28)
    x = np.asarray(fm.normalize_fashion_mnist(images))
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32
    expected = (np.float32([0, 255, 73]) / np.float32(255) - fm.FASHION_MNIST_MEAN) / (
        fm.FASHION_MNIST_STD
    )
    np.testing.assert_allclose(x[0, 0, :3, 0], expected, rtol=1e-6)
    with pytest.raises(
        ValueError, match=r"images has shape \(2, 28\), expected \(\.\.\., 28, 28\)"
    ):
        fm.normalize_fashion_mnist(np.zeros((2, 28), np.uint8))


def test_with_normalized_images_passes_everything_else_through():
    def loss(model, batch, *args, **kwargs):
        return model, batch, args, kwargs

    batch = {"image": np.full((2, 28, 28), 255, np.uint8), "label": np.array([1, 2])}
    model, seen, args, kwargs = fm.with_normalized_images(loss)("m", batch, 3, train=True)
    assert (model, args, kwargs) == ("m", (3,), {"train": True})
    assert seen["label"] is batch["label"] and seen["image"].shape == (2, 28, 28, 1)
    np.testing.assert_allclose(seen["image"], fm.normalize_fashion_mnist(batch["image"]))
    assert fm.with_normalized_images(loss).__name__ == "loss"


@pytest.mark.parametrize(
    "split, limit, n", [("train", 0, N_TRAIN), ("train", 2, 2), ("test", 9, N_TEST)]
)
def test_load_split_as_device_arrays(tmp_path, split, limit, n):
    folder = make_dataset(tmp_path / "d", marker=7)
    data = fm.load_fashion_mnist_split(split, data_dir=folder, limit=limit)
    assert set(data) == {"image", "label"}
    assert data["image"].shape == (n, 28, 28) and data["image"].dtype == np.uint8
    assert data["label"].dtype == np.int32
    np.testing.assert_array_equal(data["label"], np.arange(n) + 5)
    with pytest.raises(ValueError, match="limit is -1"):
        fm.load_fashion_mnist_split(split, data_dir=folder, limit=-1)


def test_load_split_keeps_this_process_share(tmp_path, monkeypatch):
    import jax

    folder = make_dataset(tmp_path / "d")
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    train = fm.load_fashion_mnist_split("train", data_dir=folder, limit=4)
    np.testing.assert_array_equal(train["label"], [7, 8])  # rows 2..3 of the first 4
    test = fm.load_fashion_mnist_split("test", data_dir=folder)
    assert test["label"].shape == (N_TEST,)  # every process evaluates on the whole split
    shared = fm.load_fashion_mnist_split("test", data_dir=folder, process_share=True)
    np.testing.assert_array_equal(shared["label"], [6])
