"""The recipes that make their own data on a data=2 mesh match one device.

Each runs its quick config on one device and on ``--config.mesh=data=2`` (2 simulated CPU
devices) and compares; the tolerances and why are in mesh_runs.py.
The Fashion-MNIST recipes are in test_mesh_recipes.py (fewshot, here, reads it too).
"""

from __future__ import annotations

import pytest

from .mesh_runs import check_against_one_device, group_results

pytestmark = pytest.mark.slow  # whole quick runs, twice each, in a subprocess

RECIPES = ["optimizers", "lotka_volterra", "neural_ode", "gnn_lrp", "sequences", "fewshot"]


@pytest.mark.parametrize("recipe", RECIPES)
def test_quick_run_on_a_data_2_mesh_matches_one_device(recipe, tiny_fmnist, tmp_path_factory):
    results = group_results(RECIPES, tiny_fmnist, tmp_path_factory.mktemp("mesh_runs"))
    check_against_one_device(recipe, results[recipe])
