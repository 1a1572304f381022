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
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import time

from train.__main__ import main

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


if __name__ == "__main__":
    out, data, *recipes = sys.argv[1:]
    results = {r: run(r, pathlib.Path(out), data) for r in recipes}
    print(json.dumps(results))
