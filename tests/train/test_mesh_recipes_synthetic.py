"""The recipes that make their own data on a data=2 mesh match one device.

Each runs its quick config on one device and on ``--config.mesh=data=2`` (2 simulated CPU
devices) and compares; the tolerances and why are in mesh_runs.py.
The Fashion-MNIST recipes are in test_mesh_recipes.py (fewshot, here, reads it too).
"""

from __future__ import annotations

import pytest

from .mesh_runs import check_against_one_device, group_results

pytestmark = pytest.mark.slow  # whole quick runs, twice each, in a subprocess

# One recipe runs in `make test-slow` (and CI), the rest in `make test-long`: each group is
# one subprocess.
RECIPES = ["optimizers"]
LONG_RECIPES = ["lotka_volterra", "neural_ode", "gnn_lrp", "sequences", "fewshot"]


@pytest.mark.parametrize(
    "recipe", [*RECIPES, *(pytest.param(r, marks=pytest.mark.long) for r in LONG_RECIPES)]
)
def test_quick_run_on_a_data_2_mesh_matches_one_device(recipe, tiny_fmnist, tmp_path_factory):
    group = RECIPES if recipe in RECIPES else LONG_RECIPES
    results = group_results(group, tiny_fmnist, tmp_path_factory.mktemp("mesh_runs"))
    check_against_one_device(recipe, results[recipe])
