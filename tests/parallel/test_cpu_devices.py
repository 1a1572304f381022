"""jaxdl.parallel.cpu: the host's cores as XLA devices (fresh processes where it matters:
the device count is fixed when JAX starts)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from jaxdl import parallel
from tests._pause import kill_after_epoch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _environ(**env: str) -> dict[str, str]:
    """This environment without XLA_FLAGS (a child's device count is its own), plus ``env``."""
    return {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"} | env


def _python(code: str, **env: str) -> str:
    environ = _environ(**env)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_devices_for_runs_is_the_largest_divisor_that_fits():
    fits = [parallel.devices_for_runs(8, d) for d in (1, 2, 3, 4, 6, 8, 64)]
    assert fits == [1, 2, 2, 4, 4, 8, 8]
    assert parallel.devices_for_runs(5, 2) == 1 and parallel.devices_for_runs(1, 16) == 1
    assert parallel.cpu_cores() >= 1


def test_request_is_refused_once_jax_has_started_and_checks_its_count():
    import jax

    jax.devices()  # this process's JAX is running: the count is fixed
    assert parallel.request_cpu_devices(2) is False
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="count is"):
            parallel.request_cpu_devices(bad)


CODE = """
from jaxdl import parallel
asked = parallel.request_cpu_devices({n})
import jax
print(asked, len(jax.devices()))
"""


def test_a_fresh_process_gets_the_devices_it_asks_for():
    assert _python(CODE.format(n=3)) == "True 3"


def test_the_user_s_device_count_flag_wins():
    flag = "--xla_force_host_platform_device_count=2"
    assert _python(CODE.format(n=3), XLA_FLAGS=flag) == "False 2"


def _run_ppo(workdir: pathlib.Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "train", "ppo", "--config=quick", f"--workdir={workdir}"]
    done = subprocess.run(
        [*cmd, *extra], cwd=ROOT, capture_output=True, text=True, env=_environ(), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((workdir / "summary.json").read_text())


def test_ppo_config_mistake_in_cpu_devices_is_one_sentence(tmp_path):
    cmd = [sys.executable, "-m", "train", "ppo", "--config=quick", f"--workdir={tmp_path}"]
    done = subprocess.run(
        [*cmd, "--config.cpu_devices=-2"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "config.cpu_devices is -2, expected -1 (one per core)" in done.stderr


def _killed_after_epoch_2(workdir: pathlib.Path, *extra: str) -> None:
    args = ["ppo", "--config=quick", f"--workdir={workdir}", *extra]
    environ = _environ(PYTHONPATH=str(ROOT))
    kill_after_epoch(args, marker=workdir.parent / "epoch2", epoch=2, cwd=ROOT, env=environ)
    assert not (workdir / "summary.json").exists()


@pytest.mark.slow
def test_ppo_on_cpu_devices_has_one_device_s_numbers_and_resumes_bit_identically(tmp_path):
    one = _run_ppo(tmp_path / "one", "--config.cpu_devices=0")
    two = _run_ppo(tmp_path / "two", "--config.cpu_devices=2")
    assert (one["devices"], two["devices"]) == (1, 2)
    _killed_after_epoch_2(tmp_path / "resumed", "--config.cpu_devices=2")
    resumed = _run_ppo(tmp_path / "resumed", "--config.cpu_devices=2", "--config.resume=true")
    assert resumed["devices"] == 2
    metrics = {}
    for name in ("one", "two", "resumed"):
        with np.load(tmp_path / name / "step_metrics.npz") as f:
            metrics[name] = dict(f)
    # The same maths per seed; XLA may compile a 1-seed and a 2-seed partition with a
    # different float summation order.
    np.testing.assert_allclose(
        metrics["one"]["episode_return"], metrics["two"]["episode_return"], atol=1e-3
    )
    np.testing.assert_allclose(
        metrics["one"]["value_loss"], metrics["two"]["value_loss"], rtol=1e-4
    )
    # Killed after epoch 2 and resumed on the same devices: the uninterrupted run's numbers.
    np.testing.assert_equal(metrics["resumed"], metrics["two"])
