"""Streamed input in whole runs (subprocesses, slow): two processes read disjoint shares
of every global batch and train as one process does; a fashion_mnist run with
``input=grain`` survives kill -9 bit for bit; the quick config trains with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("grain")

from tests.reliability import chaos, harness  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = harness.ROOT
SCRIPT = "tests.data.grain_two_process"


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)  # XLA's default level, as tests/parallel compares at
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_read_disjoint_shares_and_train_like_one(tmp_path):
    records, port = tmp_path / "records", str(_free_port())
    cmd = [sys.executable, "-m", SCRIPT]
    workers = [
        subprocess.Popen(
            [*cmd, "worker", str(pid), port, records, tmp_path / "run", tmp_path / "two"],
            env=_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for pid in (0, 1)
    ]
    try:
        logs = [w.communicate(timeout=300)[0] for w in workers]
    finally:
        for w in workers:  # after jax.distributed.initialize a process ignores SIGTERM
            if w.poll() is None:
                w.send_signal(signal.SIGKILL)
    assert all(w.returncode == 0 for w in workers), "\n".join(x[-2000:] for x in logs)
    ref = subprocess.run(
        [*cmd, "reference", records, tmp_path / "one"],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ref.returncode == 0, ref.stderr[-2000:]
    parts = [np.load(tmp_path / f"two.{p}.npz") for p in (0, 1)]
    one = np.load(tmp_path / "one.0.npz")
    assert [int(p["processes"]) for p in parts] == [2, 2] and int(one["processes"]) == 1
    # (epochs, steps, local batch): each process reads half of every global batch.
    assert parts[0]["read"].shape == (2, 8, 8) and one["read"].shape == (2, 8, 16)
    for epoch in range(2):
        for step in range(8):
            mine, theirs = parts[0]["read"][epoch, step], parts[1]["read"][epoch, step]
            assert not set(mine.tolist()) & set(theirs.tolist())
            np.testing.assert_array_equal(np.concatenate([mine, theirs]), one["read"][epoch, step])
    # Over an epoch the global batches visit 128 distinct records of the 136.
    assert len(set(one["read"][0].ravel().tolist())) == 128
    np.testing.assert_allclose(parts[0]["losses"], one["losses"], rtol=1e-5)
    leaves = [k for k in one.files if k.startswith("arr_")]
    assert len(leaves) == 10
    for k in leaves:
        np.testing.assert_allclose(parts[0][k], one[k], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(parts[0][k], parts[1][k])  # one model, replicated
    assert len(list(records.glob("*.array_record"))) == 1  # one writer's folder, no partials
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".records")] == []


def test_fashion_mnist_with_grain_survives_kills(tmp_path):
    overrides = ("--config.input=grain", f"--config.records_dir={tmp_path / 'records'}")
    log = chaos.kill_chain("fashion_mnist", tmp_path, *overrides)
    assert (tmp_path / "records" / "fashion_mnist" / "train" / "features.json").exists()
    # At least one kill landed mid-epoch: a restore that was not at an epoch's end.
    restores = [e[2] for e in log if e[0] == "restore"]
    assert any(step % 8 for step in restores), restores  # quick: 8 steps per epoch


def test_quick_config_trains_with_grain(tmp_path):
    from train.__main__ import main

    records = tmp_path / "records"
    args = ["--config=quick", f"--workdir={tmp_path / 'run'}", "--config.input=grain"]
    main(["fashion_mnist", *args, f"--config.records_dir={records}", "--config.num_epochs=4"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["config"]["input"] == "grain"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    history = [json.loads(x) for x in lines]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["train_examples_per_s"] > 0
    assert (records / "fashion_mnist" / "train" / "features.json").exists()
