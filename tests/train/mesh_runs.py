"""Quick recipe runs on one device and on a ``data=2`` mesh, in one process.

``python -m tests.train.mesh_runs OUT DATA_DIR RECIPE...`` runs each recipe's quick config
twice, without a mesh (the default device) and with ``--config.mesh=data=2``, in
``OUT/RECIPE/{one,mesh}``, then once asking for ``data=3`` (more devices than there are:
an error if the recipe builds its mesh). It prints one JSON object ``{recipe: {"one":
metrics, "mesh": metrics, "seconds": ..., "data3_exit_code": ...}}`` (the numeric metrics
of each run) as its last line. Run it with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``: the device count is fixed when JAX
starts, and the rest of the suite runs on one device. ``DATA_DIR`` holds the tiny
Fashion-MNIST of conftest.py. ``generative_gan`` is the generative recipe's GAN.

The tests (test_mesh_recipes*.py: in each file one recipe runs in ``make test-slow`` and
the others, marked long, in ``make test-long``; one subprocess per group, and pytest-xdist's
``--dist=loadfile`` runs the two files side by side) call :func:`group_results` and
:func:`check_against_one_device`.

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
at conftest.py's level 0 the data-parallel programs round differently from one device's
(measured there: fashion_mnist's train loss 2.3e-3 relative apart, simclr's 5.2e-4).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys
import time

from train.__main__ import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Relative tolerance (plus ``ATOL`` absolute, for metrics near 0) where the batch is split.
RTOL, ATOL = 1e-5, 1e-7
#: Where every device runs the one-device program on replicated inputs.
RTOL_REPLICATED = 1e-6
REPLICATED = {"optimizers", "lotka_volterra", "neural_ode", "gnn_lrp"}
#: Largest value allowed, on both sides, of a metric that measures a rounding error.
ROUNDING_BOUND = 1e-5

#: Each recipe's extra arguments: where Fashion-MNIST is, and a quick config's sizes that
#: the tiny data set (256 training images) cannot fill.
ARGS = {
    "adversarial": ["--config.classifier.data_dir={data}", "--config.num_images=8"],
    "fashion_mnist": ["--config.data_dir={data}"],
    "ddpm": ["--config.data_dir={data}"],
    "fewshot": ["--config.data_dir={data}"],
    "generative": ["--config.data_dir={data}", "--config.train_examples=64"],
    "generative_gan": [
        "--config.data_dir={data}",
        "--config.train_examples=64",
        "--config.model=gan",
    ],
    "simclr": ["--config.data_dir={data}"],
}


def numbers(workdir: pathlib.Path) -> dict[str, float]:
    """The numeric metrics of the summary and, prefixed ``last_``, of the last record of
    metrics.jsonl (where the run writes one: the training losses); times are left out,
    they differ run to run."""
    metrics = dict(json.loads((workdir / "summary.json").read_text())["metrics"])
    log = workdir / "metrics.jsonl"
    if log.is_file():
        last = json.loads(log.read_text().splitlines()[-1])
        metrics |= {f"last_{k}": v for k, v in last.items() if k.startswith(("train_", "test_"))}
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if "seconds" in k or k.startswith("s_per") or "per_s" in k or k.endswith("_s"):
            continue
        out[k] = float(v)
    return out


def run(recipe: str, out: pathlib.Path, data: str) -> dict:
    name = recipe.split("_gan")[0] if recipe.endswith("_gan") else recipe
    extra = [a.format(data=data) for a in ARGS.get(recipe, [])]
    result: dict = {"seconds": {}}
    for mode, mesh in (("one", []), ("mesh", ["--config.mesh=data=2"])):
        workdir = out / recipe / mode
        tic = time.perf_counter()
        code = main([name, "--config=quick", f"--workdir={workdir}", *extra, *mesh])
        result["seconds"][mode] = round(time.perf_counter() - tic, 1)
        if code != 0:
            raise SystemExit(f"{recipe} ({mode}) exited with {code}")
        result[mode] = numbers(workdir)
        result[f"{mode}_finite"] = all(math.isfinite(v) for v in result[mode].values())
    # A mesh of more devices than there are must fail: the recipe builds the mesh it is
    # given (the runs above could not tell a mesh from none by their numbers alone).
    code = main([name, "--config=quick", f"--workdir={out / recipe / 'three'}", *extra,
                 "--config.mesh=data=3"])  # fmt: skip
    result["data3_exit_code"] = code
    return result


_results: dict[tuple[str, ...], dict] = {}


def group_results(recipes: list[str], data_dir: pathlib.Path, out: pathlib.Path) -> dict:
    """This module's results for ``recipes``, run once per test session in a subprocess
    with 2 simulated CPU devices at XLA's default optimisation level."""
    if tuple(recipes) not in _results:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"  # conftest's level 0 off
        proc = subprocess.run(
            [sys.executable, "-m", "tests.train.mesh_runs", str(out), str(data_dir), *recipes],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=1500,
        )
        assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
        _results[tuple(recipes)] = json.loads(proc.stdout.strip().splitlines()[-1])
    return _results[tuple(recipes)]


def check_against_one_device(recipe: str, r: dict) -> None:
    """Asserts that ``recipe``'s mesh run finished finite and matches its one-device run
    within the module's tolerances, and that it refused a mesh of 3 devices."""
    assert r["data3_exit_code"] != 0  # the recipe builds the mesh it is asked for
    one, mesh = r["one"], r["mesh"]
    assert one and r["one_finite"] and r["mesh_finite"], r
    assert set(one) == set(mesh)
    rtol = RTOL_REPLICATED if recipe in REPLICATED else RTOL
    # A metric that is itself a rounding error (gnn_lrp's relevance conservation error: 0.0
    # on one device, 1.9e-7 on two with XLA's multi-threaded kernels) has no digits to
    # compare: both runs must keep it within float32 rounding instead.
    rounding = {k for k in one if k.endswith("rel_error")}
    for k in rounding:
        assert one[k] <= ROUNDING_BOUND and mesh[k] <= ROUNDING_BOUND, (k, one[k], mesh[k])
    compared = {k: v for k, v in one.items() if k not in rounding}
    worst = max(abs(mesh[k] - v) / max(abs(v), ATOL) for k, v in compared.items())
    print(f"{recipe}: largest relative difference {worst:.2e} (rtol {rtol:g})")
    for k, v in compared.items():
        assert math.isclose(mesh[k], v, rel_tol=rtol, abs_tol=ATOL), (k, v, mesh[k])


if __name__ == "__main__":
    out, data, *recipes = sys.argv[1:]
    results = {r: run(r, pathlib.Path(out), data) for r in recipes}
    print(json.dumps(results))
