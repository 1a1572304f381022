"""Every training recipe's quick config on a ``data=2`` mesh of 2 simulated CPU devices,
against the same quick run on one device (see mesh_runs.py, run in subprocesses).

What each comparison allows, and why:

* Recipes whose batches are split over the mesh (fit's recipes, fewshot, sequences, the
  GAN) see the same batches and keys as on one device (batches come from the data key
  and the epoch, or from the step's key, never from a device's index), so only the
  order of the sums differs: the cross-device reduction of the gradient mean and of
  batch-norm statistics. Measured on this machine (jax 0.10, 2 simulated CPU devices):
  at most 1.2e-7 relative (generative's VAE loss; sequences' 7.9e-8), most metrics equal
  to the bit. ``RTOL`` = 1e-5 leaves 100x for another CPU or XLA version.
* Recipes that replicate their work on the mesh (optimizers, lotka_volterra, neural_ode,
  gnn_lrp: no batch axis to split) run the one-device program on every device; measured
  equal to the bit, ``RTOL_REPLICATED`` = 1e-6 allows another fusion of it.
* Accuracies and attack success rates are counts over a few dozen examples: a flip
  would move them by a whole example, but the runs are deterministic and none moved.

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
RTOL, ATOL = 1e-5, 1e-7
#: Where every device runs the one-device program on replicated inputs.
RTOL_REPLICATED = 1e-6

#: One subprocess per group (JAX starts once per group): the recipes on Fashion-MNIST,
#: and those that make their own data.
GROUPS = {
    "fmnist": ["fashion_mnist", "ddpm", "adversarial", "generative", "generative_gan", "simclr"],
    "synthetic": ["optimizers", "lotka_volterra", "neural_ode", "gnn_lrp", "sequences", "fewshot"],
}
REPLICATED = {"optimizers", "lotka_volterra", "neural_ode", "gnn_lrp"}
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
        assert math.isclose(mesh[k], v, rel_tol=rtol, abs_tol=ATOL), (k, v, mesh[k])
