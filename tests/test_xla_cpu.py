"""Importing jaxdl keeps XLA:CPU's multi-threaded kernels (YNNPACK fusions off), unless the
user set the flag or opted out; see jaxdl/_xla_cpu.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jaxdl import _xla_cpu

# A 3x3 convolution with 32 input channels: jaxlib 0.10-0.12 give it to YNNPACK by default.
PROBE = """
import os, jaxdl, jax, jax.numpy as jnp
from jax import lax
x, w = jnp.ones((8, 12, 12, 32)), jnp.ones((3, 3, 32, 16))
conv = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
text = jax.jit(conv).lower(x, w).compile().as_text()
print(repr(os.environ.get("XLA_FLAGS", "")), "__ynn_fusion" in text)
"""


def _probe(**env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", _xla_cpu.OPT_OUT)}
    env |= {"JAX_PLATFORMS": "cpu", **env_changes}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    flags, ynn = out.stdout.split()[-2:]
    return flags, ynn == "True"


def test_import_turns_ynn_off_and_respects_the_opt_out_and_the_users_flag():
    flags, ynn = _probe()
    assert _xla_cpu.YNN_OFF in flags and not ynn
    flags, ynn_default = _probe(**{_xla_cpu.OPT_OUT: "0"})
    assert _xla_cpu.YNN_OFF not in flags
    if not ynn_default:
        pytest.skip("this jaxlib does not give the probe convolution to YNNPACK")
    # The user's own setting is kept as it is (here: YNNPACK convolutions on).
    own = "--xla_cpu_experimental_ynn_fusion_type=individual_convolution"
    flags, ynn = _probe(XLA_FLAGS=own)
    assert flags.strip("'") == own and ynn


def test_apply_cpu_defaults_edits_only_an_environment_that_allows_it(monkeypatch):
    monkeypatch.setattr(_xla_cpu, "backends_started", lambda: False)
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert _xla_cpu.apply_cpu_defaults(env)
    assert env["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=2 {_xla_cpu.YNN_OFF}"
    assert not _xla_cpu.apply_cpu_defaults(env)  # already there: not twice
    env = {_xla_cpu.OPT_OUT: "0"}
    assert not _xla_cpu.apply_cpu_defaults(env) and "XLA_FLAGS" not in env
    monkeypatch.setattr(_xla_cpu, "backends_started", lambda: True)
    env = {}
    assert not _xla_cpu.apply_cpu_defaults(env) and env == {}  # too late: no effect, no edit
