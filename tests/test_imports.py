"""The heavy dependencies load only with the subpackages that need them (DESIGN.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("diffrax", "equinox", "jraph", "transformers", "gymnax", "torch")


def loaded_after(statement: str) -> set[str]:
    """The ``HEAVY`` packages in ``sys.modules`` after ``statement``, in a fresh process."""
    code = (
        f"import sys\n{statement}\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_nn_and_losses_load_no_heavy_dependency():
    assert loaded_after("import jaxdl.nn, jaxdl.losses") == set()


@pytest.mark.parametrize(
    ("statement", "needs"),
    [("import jaxdl.ode", {"diffrax", "equinox"}), ("import jaxdl.graph", {"jraph"})],
)
def test_ode_and_graph_load_their_own(statement, needs):
    # The check above is only meaningful if these names are what the subpackages load.
    assert needs <= loaded_after(statement)
