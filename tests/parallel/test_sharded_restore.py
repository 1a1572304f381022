"""Sharded restore on 8 simulated devices (a subprocess: see sharded_restore.py)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from tests.reliability import harness

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_a_checkpoint_reshards_into_another_mesh_and_one_device_without_host_copies(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)  # the subprocess sets its own device count
    result = subprocess.run(
        [sys.executable, "-m", "tests.parallel.sharded_restore", str(tmp_path / "ckpt")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == 8
    assert out["sharded_leaves_written"] >= 6  # both kernels, Adam's mu and nu of them
    for target, largest in (("data=2,fsdp=4", 0.25), ("one_device", 1.0)):
        r = out[target]
        assert r["key"] == 5
        assert r["equal"], r  # every leaf, bit for bit
        assert r["at_target"], r  # read straight into the target shardings
        assert r["largest_shard"] == largest, r  # a quarter of each large leaf per device


@pytest.mark.slow
def test_a_killed_fsdp_run_resumes_into_its_shardings_bit_identically(tmp_path, tiny_fmnist):
    def run(workdir, fault=None):
        env = harness._env(fault, None)
        flags = env.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2".strip()
        cmd = [
            sys.executable, "-m", "train", "fashion_mnist", "--config=quick",
            f"--workdir={workdir}", "--config.mesh=fsdp=2", f"--config.data_dir={tiny_fmnist}",
            "--config.progress=false",
        ]  # fmt: skip
        return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)

    whole = run(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = run(tmp_path / "cut", fault="chunk:2")
    assert killed.returncode == -9, killed.stderr[-3000:]
    resumed = run(tmp_path / "cut")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    harness.assert_same_run(tmp_path / "whole", tmp_path / "cut")
    # This process has one device: the 2-device checkpoint loads whole, and is not taken
    # for a corrupt one.
    from flax import nnx

    from jaxdl.training.checkpoint import path_keys
    from train.loading import load_run

    model, config = load_run(tmp_path / "cut")
    assert config.mesh == "fsdp=2"
    assert not list((tmp_path / "cut" / "checkpoints").glob("*.corrupt"))
    _, stored = harness.final_checkpoints(tmp_path / "cut")["checkpoints"]
    leaves = jax.tree_util.tree_flatten_with_path(nnx.state(model, nnx.Param))[0]
    assert leaves
    for path, x in leaves:
        name = "['params']" + "".join(f"['{k}']" for k in path_keys(path))
        np.testing.assert_array_equal(np.asarray(x), stored[name])
