"""Sharded restore on 8 simulated devices (a subprocess: see sharded_restore.py)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

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
