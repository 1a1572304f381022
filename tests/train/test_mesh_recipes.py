"""Every training recipe's quick config on a ``data=2`` mesh of 2 simulated CPU devices,
against the same quick run on one device (see mesh_runs.py, run in subprocesses).

What each comparison allows, and why:

* Recipes whose batches are split over the mesh (fit's recipes, fewshot, sequences, the
  GAN) see the same batches and keys as on one device, so only the order of the sums
  differs: the cross-device reduction of the gradient mean and of batch-norm statistics.
  That float32 rounding (about 1e-7 relative per step) grows over a quick run's few
  dozen steps and through the evaluations; ``RTOL`` bounds it.
* Recipes that replicate their work on the mesh (optimizers, lotka_volterra, neural_ode,
  gnn_lrp: no batch axis to split) compute the same program on each device and must agree
  to ``RTOL_REPLICATED``.
* No recipe's randomness depends on the device count: batches come from the data key and
  the epoch or from the step's key, never from a device's index.

The subprocesses compile at XLA's default optimisation level, as test_multidevice does:
at conftest.py's level 0 the data-parallel programs round differently from one device's.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # whole quick runs, twice each, in subprocesses

#: Relative tolerance (plus ``ATOL`` absolute, for metrics near 0) where the batch is split.
RTOL, ATOL = 2e-3, 1e-4
#: Where every device runs the one-device program on replicated inputs.
RTOL_REPLICATED = 1e-5

#: One subprocess per group (JAX starts once per group): the recipes on Fashion-MNIST,
#: and those that make their own data.
GROUPS = {
    "fmnist": ["fashion_mnist", "ddpm", "adversarial", "generative", "generative_gan", "simclr"],
    "synthetic": ["optimizers", "lotka_volterra", "neural_ode", "gnn_lrp", "sequences", "fewshot"],
}
REPLICATED = {"optimizers", "lotka_volterra", "neural_ode", "gnn_lrp"}
#: Metrics a split batch may change by more than rounding: argmax counts over a few dozen
#: test examples flip on a tie-break, and an attack's success is such a count.
COUNTS = ("accuracy", "error_rate", "success", "num_attacked", "shot", "codes_used")

_results: dict[str, dict] = {}


def _group_results(group: str, data_dir: pathlib.Path, out: pathlib.Path) -> dict:
    if group not in _results:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        proc = subprocess.run(
            [sys.executable, "-m", "tests.train.mesh_runs", str(out), str(data_dir)]
            + GROUPS[group],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=1200,
        )
        assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
        _results[group] = json.loads(proc.stdout.strip().splitlines()[-1])
    return _results[group]


@pytest.mark.parametrize("recipe", [r for rs in GROUPS.values() for r in rs])
def test_quick_run_on_a_data_2_mesh_matches_one_device(recipe, tiny_fmnist, tmp_path_factory):
    group = next(g for g, rs in GROUPS.items() if recipe in rs)
    r = _group_results(group, tiny_fmnist, tmp_path_factory.mktemp(group))[recipe]
    assert r["data3_exit_code"] != 0  # the recipe builds the mesh it is asked for
    one, mesh = r["one"], r["mesh"]
    assert one and r["one_finite"] and r["mesh_finite"], r
    assert set(one) == set(mesh)
    rtol = RTOL_REPLICATED if recipe in REPLICATED else RTOL
    for k, v in one.items():
        if recipe not in REPLICATED and any(c in k for c in COUNTS):
            # One tie-break flip among the few dozen quick-run examples, at most.
            assert abs(mesh[k] - v) <= max(0.1 * abs(v), 0.07), (k, v, mesh[k])
            continue
        assert math.isclose(mesh[k], v, rel_tol=rtol, abs_tol=ATOL), (k, v, mesh[k])
