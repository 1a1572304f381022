"""The command line as a user meets it: wrong values, a busy workdir, another run's
workdir, a failed rerun, NaN. Each ends in one sentence with exit status 2 (usage) or
1 (failure), and no run loses data (issue 20's findings 1, 2, 3, 7 and 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.reliability import harness
from tests.reliability.test_workdir import snapshot

#: 6 epochs, as tests/train/test_cli.py and test_ddpm.py run fashion_mnist: the same
#: compiled programs, found in the session's shared compilation cache (conftest.py).
SIX_EPOCHS = "--config.num_epochs=6"


@pytest.fixture(scope="module")
def fmnist(tiny_fmnist):
    """Overrides that run fashion_mnist's quick config on the tiny IDX files."""
    return (f"--config.data_dir={tiny_fmnist}", SIX_EPOCHS)


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("--config.batch_size=0", "config.batch_size is 0, expected at least 1"),
        ("--config.batch_size=-5", "config.batch_size is -5, expected at least 1"),
        ("--config.num_epochs=0", "config.num_epochs is 0, expected at least 1"),
        ("--config.learning_rate=nan", "config.learning_rate is nan"),
    ],
)
def test_bad_values_are_usage_errors_before_any_data_loads(tmp_path, override, says):
    # A data_dir that does not exist: the value is refused before anything is read.
    done = harness.cli("fashion_mnist", tmp_path / "w", "--config.data_dir=/nonexistent", override)
    assert says in harness.one_line_error(done, 2)
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_another_run_in_the_workdir_is_refused_and_the_same_one_resumes(tmp_path, fmnist):
    first = harness.cli("fashion_mnist", tmp_path, *fmnist)
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(tmp_path)
    other = harness.cli("fashion_mnist", tmp_path, *fmnist, "--config.seed=1")
    line = harness.one_line_error(other, 2)
    assert "holds another run (seed: 0 -> 1)" in line and "--config.overwrite=true" in line
    refused = harness.cli("fashion_mnist", tmp_path, *fmnist, "--config.resume=false")
    assert "already holds this run" in harness.one_line_error(refused, 2)
    assert snapshot(tmp_path) == before
    again = harness.cli("fashion_mnist", tmp_path, *fmnist)  # resumes the finished run
    assert again.returncode == 0, again.stderr[-2000:]
    assert harness.records(tmp_path) == [
        {k: v for k, v in json.loads(x).items() if not harness.TIMING.search(k)}
        for x in before["metrics.jsonl"].decode().splitlines()
    ]


@pytest.mark.slow
def test_a_failed_overwrite_keeps_the_older_run(tmp_path, fmnist):
    assert harness.cli("fashion_mnist", tmp_path, *fmnist).returncode == 0
    before = snapshot(tmp_path)
    failed = harness.cli(
        "fashion_mnist", tmp_path, *fmnist, "--config.learning_rate=1e6", "--config.overwrite=true"
    )
    line = harness.one_line_error(failed, 1)
    assert "became NaN or infinite" in line
    assert snapshot(tmp_path) == before
    assert "the earlier run in" in failed.stderr


@pytest.mark.slow
def test_a_second_run_into_a_busy_workdir_is_refused(tmp_path, fmnist):
    env = dict(os.environ, PYTHONPATH=str(harness.ROOT), JAX_COMPILATION_CACHE_DIR=harness.CACHE)
    env["JAXDL_FAULT_STALL_S"] = "0.5"  # the first run stays in the workdir for a while
    cmd = [sys.executable, "-m", "train", "fashion_mnist", "--config=quick"]
    first = subprocess.Popen(
        [*cmd, f"--workdir={tmp_path}", *fmnist],
        env=env,
        cwd=harness.ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / ".lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = harness.cli("fashion_mnist", tmp_path, *fmnist)
        assert first.poll() is None, "the first run ended before the second one started"
        assert f"in use by process {first.pid}" in harness.one_line_error(second, 2)
    finally:
        assert first.wait(timeout=600) == 0
    records = harness.records(tmp_path)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]


def test_a_nan_loss_fails_the_run(tmp_path):
    done = harness.cli(
        "makemore", tmp_path, "--config.learning_rate=1e38", "--config.lr_find_steps=0"
    )
    assert "step 1 (epoch 1)" in harness.one_line_error(done, 1)


def test_a_non_finite_final_metric_fails_the_run():
    from jaxdl.errors import NonFiniteLossError
    from train.__main__ import check_finite

    check_finite({"test_loss": 2.0, "samples": ["a"]})
    with pytest.raises(NonFiniteLossError, match="final test_loss is nan"):
        check_finite({"test_loss": float("nan"), "train_loss": 1.0})


def test_a_workdir_that_is_a_file_fails_in_one_sentence(tmp_path, fmnist):
    (tmp_path / "file").write_text("x")
    done = harness.cli("fashion_mnist", tmp_path / "file", *fmnist)
    assert "a file is in the way" in harness.one_line_error(done, 1)


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXDL_DEBUG", "1")
    env = dict(os.environ, PYTHONPATH=str(harness.ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "train", "fashion_mnist", f"--workdir={tmp_path}"]
        + ["--config.batch_size=0"],
        env=env,
        cwd=harness.ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "Traceback" in done.stderr
