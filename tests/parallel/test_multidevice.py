"""8 simulated devices and 2 processes, each in subprocesses (see scenarios.py)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Every test here reads the 8-device scenarios (about 90 s) or starts two processes.
pytestmark = pytest.mark.slow


def _env(**extra) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    # The subprocess picks its own device count and compiles at XLA's default level:
    # at conftest.py's level 0 the data-parallel programs round differently from the
    # one-device ones (a loss 0.013 apart after 20 steps), which these tests compare.
    env.pop("XLA_FLAGS", None)
    return env


@pytest.fixture(scope="module")
def scenarios() -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.parallel.scenarios"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model", ["classifier", "transformer"])
def test_data_parallel_8_devices_equals_1_device(scenarios, model):
    r = scenarios["all_modes"][model]
    assert r["steps"] == 20
    assert r["dp_replicated"]  # the whole state on every device: DDP
    assert r["dp_vs_one_max_abs_diff"] < 1e-5, r
    np.testing.assert_allclose(r["loss_dp"], r["loss_one"], rtol=1e-5)


@pytest.mark.parametrize("model", ["classifier", "transformer"])
def test_fsdp_holds_an_eighth_per_device_and_matches_data_parallel(scenarios, model):
    r = scenarios["all_modes"][model]
    # All but the leaves with no axis divisible by 8 (a 10-way bias, Adam's step count).
    assert r["fsdp_sharded_leaves"] >= r["leaves"] - 1
    for part in ("params", "opt_state"):
        assert 0.125 <= r["fsdp_fraction_per_device"][part] < 0.13, r
    assert len(r["loss_fsdp"]) == 4
    np.testing.assert_allclose(r["loss_fsdp"], r["loss_dp"], rtol=1e-5)
    assert r["fsdp_vs_dp_max_abs_diff"] < 1e-5


def test_gradient_accumulation_equals_whole_batch(scenarios):
    assert scenarios["all_modes"]["transformer"]["accum_vs_whole_max_abs_diff"] < 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one(tmp_path):
    port = str(_free_port())
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.parallel.two_process",
                "worker",
                str(pid),
                port,
                str(tmp_path / "run"),
                str(tmp_path / "two.npz"),
            ],
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
        # After jax.distributed.initialize a process ignores SIGTERM.
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGKILL)
    assert all(w.returncode == 0 for w in workers), "\n".join(x[-2000:] for x in logs)
    ref = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.parallel.two_process",
            "reference",
            str(tmp_path / "one.npz"),
        ],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ref.returncode == 0, ref.stderr[-2000:]
    two, one = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert int(two["processes"]) == 2 and int(one["processes"]) == 1
    leaves = [k for k in two.files if k.startswith("arr_")]
    assert len(leaves) == 10
    for k in leaves:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=1e-6)
    # Every process wrote the checkpoint through orbax; only process 0 wrote the logs.
    saved = [p.name for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.isdigit()]
    assert len(saved) >= 1  # keyed by step
    assert "epoch   2" in logs[0] and "epoch" not in logs[1].replace("epochs", "")


def test_two_processes_restore_their_sharded_checkpoint(tmp_path):
    """Written by both processes under fsdp=2; each restores only its half under fsdp=2
    (a quarter-size leaf would mean it read the other's) and all of it under data=2."""
    port = str(_free_port())
    outs = [tmp_path / f"out{pid}.json" for pid in (0, 1)]
    cmd = [sys.executable, "-m", "tests.parallel.two_process_ckpt"]
    workers = [
        subprocess.Popen(
            [*cmd, str(pid), port, str(tmp_path / "ckpt"), str(outs[pid])],
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
        for w in workers:  # after jax.distributed.initialize SIGTERM does not end it
            if w.poll() is None:
                w.send_signal(signal.SIGKILL)
    assert all(w.returncode == 0 for w in workers), "\n".join(x[-2000:] for x in logs)
    for pid, out in enumerate(outs):
        r = json.loads(out.read_text())
        assert (r["process"], r["processes"]) == (pid, 2)
        assert r["sharded_leaves"] >= 6  # both kernels, Adam's mu and nu of them
        for mesh, largest in (("fsdp=2", 0.5), ("data=2", 1.0)):
            assert r[mesh]["key"] == 3
            assert r[mesh]["equal"], (pid, mesh, r)
            assert r[mesh]["at_target"], (pid, mesh, r)
            assert r[mesh]["largest_shard"] == largest, (pid, mesh, r)
