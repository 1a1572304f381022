"""The entry point end to end, on the tiny IDX data from conftest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from train.__main__ import main, recipes

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "train", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def quick(tiny_fmnist: Path, workdir: Path, *extra: str) -> list[str]:
    return [
        "fashion_mnist",
        "--config=quick",
        f"--workdir={workdir}",
        f"--config.data_dir={tiny_fmnist}",
        *extra,
    ]


# 6 epochs, as test_ddpm's classifier: the same compiled programs,
# found in the session's shared compilation cache (see conftest.py).
SIX_EPOCHS = "--config.num_epochs=6"


def test_end_to_end_writes_the_run(tiny_fmnist, tmp_path):
    out = cli(*quick(tiny_fmnist, tmp_path, SIX_EPOCHS, "--config.seed", "1"))
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert 0.0 <= summary["metrics"]["test_accuracy"] <= 1.0
    assert summary["config"]["num_epochs"] == 6 and summary["config"]["seed"] == 1
    assert summary["jax"] and summary["devices"] and summary["wall_time_s"] > 0
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 6
    assert (tmp_path / "curves.png").exists()
    assert f"{summary['metrics']['test_accuracy']:.4f}" in out.stdout


def test_list_shows_recipes_and_configs(capsys):
    assert main(["--list"]) == 0
    assert "fashion_mnist" in capsys.readouterr().out
    assert "fashion_mnist" in recipes()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--config.lerning_rate=0.1"], "no field 'lerning_rate' (did you mean 'learning_rate'?)"),
        (["--config.num_epochs=two"], "--config.num_epochs=two is not valid: expected an integer"),
        (["--config=quik"], "no config 'quik' (did you mean 'quick'?)"),
    ],
)
def test_config_mistakes_are_one_sentence(tiny_fmnist, tmp_path, capsys, args, expected):
    assert main([*quick(tiny_fmnist, tmp_path), *args]) == 2  # usage errors
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_recipe(capsys):
    assert main(["fashion_mnst"]) == 2
    assert "There is no recipe 'fashion_mnst'" in capsys.readouterr().err


def test_missing_and_corrupt_data_are_one_sentence(tiny_fmnist, tmp_path):
    missing = cli(*quick(tmp_path / "nowhere", tmp_path / "run"))
    assert missing.returncode == 1
    assert "apt-get install dataset-fashion-mnist" in missing.stderr
    assert "Traceback" not in missing.stderr and missing.stderr.count("\n") == 1

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in tiny_fmnist.iterdir():
        data = f.read_bytes()
        (corrupt / f.name).write_bytes(data[: len(data) // 2] if "train-images" in f.name else data)
    out = cli(*quick(corrupt, tmp_path / "run2"))
    assert out.returncode == 1
    assert "train-images-idx3-ubyte.gz" in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1


def test_console_script_is_the_same_entry_point():
    script = Path(sys.executable).parent / "jaxdl-train"
    if not script.exists():
        pytest.skip("jaxdl is not pip-installed in this environment")
    out = subprocess.run([str(script), "--list"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # The same recipes as the in-process listing, in order (not just the first one).
    assert [line.split()[0] for line in out.stdout.splitlines()] == recipes()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("--config.model=rnn", "config.model is 'rnn', expected 'cnn' or 'mlp'."),
        # ValueErrors of the library (CNNClassifier), named by their argument.
        (
            "--config.conv_impl=cudnn",
            "conv_impl is 'cudnn', expected one of 'auto', 'fast', 'xla'.",
        ),
        ("--config.norm=weight", "norm is 'weight', expected one of batch, layer, instance"),
        ("--config.batch_size=100000", "config.batch_size is 100000, expected at most the 256"),
    ],
)
def test_bad_config_values_are_one_sentence(tiny_fmnist, tmp_path, capsys, override, expected):
    assert main([*quick(tiny_fmnist, tmp_path), override]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("--config.precision=fp8", "precision is 'fp8', expected one of float32, bfloat16"),
        ("--config.remat=some", "remat is 'some', expected one of off, nothing, dots"),
        ("--config.mesh=data=1,data=1", "mesh names axis 'data' twice"),
    ],
)
def test_library_value_errors_are_one_sentence(
    tiny_fmnist, tmp_path, capsys, monkeypatch, override, expected
):
    # These come from jaxdl.parallel as plain ValueError, not from the recipe.
    monkeypatch.delenv("JAXDL_DEBUG", raising=False)
    assert main([*quick(tiny_fmnist, tmp_path), override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err
    assert err.count("\n") == 1 and "Traceback" not in err
    # With JAXDL_DEBUG the error propagates with its traceback.
    monkeypatch.setenv("JAXDL_DEBUG", "1")
    with pytest.raises(ValueError, match=expected.split(",")[0]):
        main([*quick(tiny_fmnist, tmp_path), override])
