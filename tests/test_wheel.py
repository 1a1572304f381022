"""The built wheel: one top-level package, the license and type marker inside, and the
recipes runnable as ``jaxdl-train`` from a folder outside the repository (with a user's
own ``train.py`` in it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted(p.name for p in (REPO / "train").iterdir() if (p / "train.py").is_file())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: setuptools is in the test venv and nothing is downloaded.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300, cwd=out,
    )  # fmt: skip
    (path,) = out.glob("jaxdl-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict[str, str]:
    """The wheel installed (without its dependencies, which this venv has) into a
    folder of its own; the environment that puts it first on the path."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {
        **env,
        "PYTHONPATH": str(target),
        "PATH": f"{target / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "JAX_PLATFORMS": "cpu",
    }


def test_the_wheel_holds_jaxdl_only_with_license_and_types(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"jaxdl"}
    assert "jaxdl/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Every recipe ships with its configs, inside jaxdl's namespace.
    for recipe in RECIPES:
        assert f"jaxdl/recipes/{recipe}/train.py" in names
        assert f"jaxdl/recipes/{recipe}/configs/quick.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "jaxdl-train = jaxdl.recipes.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()
    )


def test_installed_recipes_run_beside_a_users_own_train_py(installed, tmp_path):
    (tmp_path / "train.py").write_text("raise SystemExit('the user\\'s train.py ran')\n")
    listed = subprocess.run(
        ["jaxdl-train", "--list"], env=installed, cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == RECIPES
    # `python -m` puts the folder first on sys.path: nothing may import a top-level `train`.
    probe = (
        "import jaxdl, jaxdl.recipes.__main__ as m, jaxdl.recipes.cli_config as c; "
        "print(jaxdl.__file__); print(c.load_config('makemore', 'quick').num_steps)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], env=installed, cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    where, steps = shown.stdout.split()
    assert Path(where).is_relative_to(installed["PYTHONPATH"])
    assert int(steps) > 0


LOAD_AND_EXPORT = """
import json, sys
import jax, jax.numpy as jnp, numpy as np
from flax import nnx
from jaxdl.data import normalize_fashion_mnist
from jaxdl.recipes import _common
from jaxdl.recipes.loading import export_run, load_run


def arrays(model):
    key = lambda x: jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
    raw = lambda x: jax.random.key_data(x) if key(x) else x
    return [np.asarray(raw(x)) for x in jax.tree.leaves(nnx.state(model))]


workdir, export = sys.argv[1], sys.argv[2]
model, config = load_run(workdir)
model.eval()
_, test = _common.fashion_mnist_splits(config)
logits = model(normalize_fashion_mnist(test["image"]))
correct = int((jnp.argmax(logits, -1) == test["label"]).sum())
export_run(workdir, export)
again, _ = load_run(export)
pairs = list(zip(arrays(model), arrays(again), strict=True))
same = all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in pairs)
print(json.dumps({"correct": correct, "n": int(test["label"].shape[0]), "same": same}))
"""


def test_installed_recipe_trains_loads_and_exports_outside_the_repo(installed, tmp_path):
    workdir = tmp_path / "run"
    trained = subprocess.run(
        ["jaxdl-train", "fashion_mnist", "--config=quick", f"--workdir={workdir}",
         "--config.progress=false"],
        env=installed, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    summary = json.loads((workdir / "summary.json").read_text())
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_EXPORT, str(workdir), str(tmp_path / "export")],
        env=installed, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    out = json.loads(loaded.stdout.splitlines()[-1])
    # The loaded model predicts what the run's final evaluation counted.
    assert out["correct"] == round(summary["metrics"]["test_accuracy"] * out["n"])
    assert out["same"]
