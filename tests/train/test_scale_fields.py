"""The recipes that honour only some scaling fields reject the others in one sentence,
before any work (test_mesh_recipes.py runs each on a mesh)."""

from __future__ import annotations

import ml_collections
import pytest

from train import _common
from train.__main__ import main
from train.cli_config import ConfigError

# (recipe, a field it cannot honour, the reason its error gives)
REJECTED = [
    ("optimizers", "precision=bfloat16", "the surfaces are evaluated in float32"),
    ("lotka_volterra", "accum_steps=2", "nothing is trained"),
    ("neural_ode", "accum_steps=2", "the batch is the one trajectory"),
    ("gnn_lrp", "remat=nothing", "GraphNet has no checkpointed blocks"),
    ("sequences", "precision=float16", "the GRUs train in float32"),
    ("fewshot", "accum_steps=2", "the metric losses compare the rows of one batch"),
    ("simclr", "accum_steps=2", "NT-Xent fewer negatives"),
    ("adversarial", "remat=dots", "the classifier has no checkpointed blocks"),
    ("generative", "precision=bfloat16", "the networks train in float32"),
    ("generative", "num_processes=2", "the grids and code counts are computed on one host"),
    ("subwords", "remat=dots", "there are no activations to recompute"),
]


@pytest.mark.parametrize("recipe, override, reason", REJECTED)
def test_a_scaling_field_the_recipe_cannot_honour_is_one_sentence(
    recipe, override, reason, tmp_path, capsys
):
    args = [recipe, "--config=quick", f"--workdir={tmp_path}", f"--config.{override}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    field, value = override.split("=")
    assert f"config.{field} is" in err and reason in err, err
    assert not (tmp_path / "metrics.jsonl").exists()  # rejected before training


def test_the_gan_rejects_micro_batches(tmp_path, capsys):
    args = ["generative", "--config=quick", f"--workdir={tmp_path}", "--config.model=gan",
            "--config.accum_steps=2"]  # fmt: skip
    assert main(args) == 2
    assert "the GAN's step updates two networks" in capsys.readouterr().err


def test_check_scale_support_reads_defaults_and_the_multi_host_group():
    c = _common.add_scale_fields(ml_collections.ConfigDict())
    _common.check_scale_support(c, {"remat": "r", "processes": "p"})  # all defaults: fine
    _common.check_scale_support(ml_collections.ConfigDict(), {"remat": "r"})  # absent: default
    c.mesh = "data=2"  # not named: the recipe honours it
    _common.check_scale_support(c, {"remat": "r"})
    c.process_id = 1
    with pytest.raises(ConfigError, match=r"config.process_id is 1, expected -1: p\.$"):
        _common.check_scale_support(c, {"remat": "r", "processes": "p"})
