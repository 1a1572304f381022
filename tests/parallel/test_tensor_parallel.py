"""Tensor parallelism on 2 simulated devices: the transformer recipes with
``--config.mesh=model=2`` (and ``data=2``) match one device, with their attention and MLP
weights really split, and XLA compiles the Megatron collectives (see tensor_scenarios.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.parallel.test_multidevice import ROOT, _env

pytestmark = pytest.mark.slow

HALVED = {  # name_sex quick: dim 16, hidden 32 -> the shard each device holds
    "q_kernel": [16, 8],
    "q_bias": [8],
    "out_kernel": [8, 16],
    "out_bias": [16],
    "lin1_kernel": [16, 16],
    "lin2_kernel": [16, 16],
}


def _scenario(name: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.parallel.tensor_scenarios", name],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])[name]


@pytest.fixture(scope="module")
def name_sex() -> dict:
    return _scenario("name_sex")


@pytest.fixture(scope="module")
def explain_text() -> dict:
    return _scenario("explain_text")


@pytest.mark.parametrize("mesh", ["model=2", "data=2"])
def test_name_sex_on_two_devices_equals_one(name_sex, mesh):
    one, two = name_sex["one"], name_sex[mesh]
    assert len(one["train_loss"]) == 2  # the quick config's two epochs
    for metric in ("train_loss", "test_loss", "test_accuracy"):
        np.testing.assert_allclose(two[metric], one[metric], rtol=1e-5, err_msg=metric)
    assert two["max_param_diff_vs_one"] < 1e-5


def test_name_sex_model_axis_splits_attention_and_mlp_and_their_moments(name_sex):
    for part in ("params", "mu"):
        leaves = name_sex["model=2"][part]
        for label, shard in HALVED.items():
            assert leaves[label]["shard"] == shard, (part, label, leaves[label])
            assert leaves[label]["devices"] == 2
    assert name_sex["model=2"]["params"]["embedding"]["shard"] == [32, 16]  # replicated
    for label, leaf in name_sex["data=2"]["params"].items():
        assert leaf["shard"] == leaf["shape"], label  # data parallel: all on each device


# The real all-MiniLM-L6-v2 split, and model with a batch axis on 4 devices: what the
# name_sex tests check, on more; `make test-long` runs them.
@pytest.mark.long
@pytest.mark.parametrize("mesh", ["model=2", "data=2"])
def test_explain_text_on_two_devices_equals_one(explain_text, mesh):
    one, two = explain_text["one"]["metrics"], explain_text[mesh]["metrics"]
    assert set(one) == set(two) and "aopc_lrp" in one and "mean_cosine" in one
    for k in one:
        assert abs(two[k] - one[k]) < 1e-5, (k, two[k], one[k])


@pytest.mark.long
def test_explain_text_splits_weights_over_model_and_texts_over_data(explain_text):
    leaves = explain_text["model=2"]["params"]  # all-MiniLM-L6-v2: dim 384, hidden 1536
    assert leaves["q_kernel"]["shard"] == [384, 192]
    assert leaves["out_kernel"]["shard"] == [192, 384]
    assert leaves["lin1_kernel"]["shard"] == [384, 768]
    assert leaves["lin2_kernel"]["shard"] == [768, 384]
    texts = {m: explain_text[m]["texts"] for m in ("model=2", "data=2")}
    assert texts["model=2"]["shard"] == texts["model=2"]["shape"]  # every device: all texts
    assert texts["data=2"]["shard"][0] * 2 == texts["data=2"]["shape"][0] == 8


def test_xla_compiles_the_megatron_collectives():
    found = _scenario("collectives")
    # Forward: one all-reduce of the (B, T, D) activations after each row-parallel layer
    # (attention's output projection, the MLP's second linear), 2 per block, 2 blocks;
    # no weight is ever gathered.
    assert found["forward"]["counts"] == {"all-reduce": 4}, found
    assert found["forward"]["activation_all_reduces"] == 4
    # Train step: the backward adds one per column-parallel input (q/k/v's in one
    # combined op); the rest are scalar reductions (the NaN guard's finiteness).
    step = found["train_step"]["counts"]
    assert set(step) == {"all-reduce"}, found
    assert found["train_step"]["activation_all_reduces"] == 8, found


@pytest.fixture(scope="module")
def name_sex_4() -> dict:
    return _scenario("name_sex_4")


@pytest.mark.long
@pytest.mark.parametrize("mesh", ["data=2,model=2", "fsdp=2,model=2"])
def test_model_axis_with_a_batch_axis_on_four_devices_equals_one(name_sex_4, mesh):
    one, four = name_sex_4["one"], name_sex_4[mesh]
    for metric in ("train_loss", "test_loss", "test_accuracy"):
        np.testing.assert_allclose(four[metric], one[metric], rtol=1e-5, err_msg=metric)
    assert four["max_param_diff_vs_one"] < 1e-5
    q = four["params"]["q_kernel"]
    # model splits the columns; fsdp takes the rows that model left.
    assert q["shard"] == ([8, 8] if mesh.startswith("fsdp") else [16, 8]), q
    assert four["mu"]["q_kernel"]["shard"] == q["shard"]
