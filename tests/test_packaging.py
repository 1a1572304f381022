"""Packaging: the lean core imports nothing from the extras, and a missing extra says which
one to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
# What issue 21 requires `import jaxdl.losses` not to import (all of them are extras or
# heavy transitive dependencies of the engine).
NOT_ON_LOSSES = {
    "diffrax",
    "jraph",
    "gymnax",
    "transformers",
    "orbax",
    "matplotlib",
    "scipy",
    "torch",
    "tensorflow",
    "grain",
    "array_record",
}


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=ENV, cwd=REPO, timeout=60
    )


def test_losses_importtime_lists_no_extra():
    result = run(["-X", "importtime", "-c", "import jaxdl.losses"])
    assert result.returncode == 0, result.stderr
    # stderr lines: "import time: self [us] | cumulative | imported package", nested by indent.
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "jaxdl.losses" in modules  # the parse is right: the module itself is listed
    assert {m.split(".")[0] for m in modules} & NOT_ON_LOSSES == set()


@pytest.mark.parametrize(
    ("module", "library", "extra"),
    [
        ("jaxdl.ode", "diffrax", "ode"),
        ("jaxdl.ode", "equinox", "ode"),
        ("jaxdl.graph", "jraph", "graph"),
        ("jaxdl.rl", "gymnax", "rl"),
        ("jaxdl.data.graphs", "jraph", "graph"),
        ("jaxdl.xai.gnn_lrp", "jraph", "graph"),
        ("jaxdl.data.records", "grain", "data"),
        ("jaxdl.data.streaming", "grain", "data"),
    ],
)
def test_missing_extra_names_it(module, library, extra):
    # None in sys.modules makes every `import library` fail as if it were not installed.
    result = run(["-c", f"import sys; sys.modules[{library!r}] = None; import {module}"])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"ModuleNotFoundError: {module} needs {library}: pip install 'jaxdl[{extra}]'"


def test_load_tokenizer_without_transformers_names_text(monkeypatch):
    from jaxdl.pretrained import load_tokenizer

    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"needs transformers: pip install 'jaxdl\[text\]'"):
        load_tokenizer("all-MiniLM-L6-v2")


def test_viz_without_matplotlib_names_viz(monkeypatch, tmp_path):
    from jaxdl.viz import figure, save_grid

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.image", None)
    with pytest.raises(
        ImportError, match=r"^jaxdl.viz needs matplotlib: pip install 'jaxdl\[viz\]'$"
    ):
        figure(figsize=(1, 1))
    with pytest.raises(ImportError, match=r"jaxdl.viz needs matplotlib"):
        save_grid(np.zeros((1, 2, 2)), tmp_path / "g.png", nrow=1)
