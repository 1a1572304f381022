"""The graph recipes at their default settings: they are small enough to run whole."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main, recipes
from train.cli_config import ConfigError
from train.gcn_karate import train as karate
from train.gcn_karate.configs import default as karate_default
from train.gnn_lrp import train as lrp
from train.gnn_lrp.configs import default as lrp_default


def test_karate_default_reaches_90_percent_over_10_seeds(tmp_path):
    config = karate_default.get_config()
    result = karate.train_and_evaluate(config, tmp_path)
    per_seed = result["test_accuracy_per_seed"]
    assert len(per_seed) == config.num_seeds == 10
    assert result["metrics"]["test_accuracy"] >= 0.90
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metrics"]["test_accuracy"] == pytest.approx(sum(per_seed) / 10)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == config.num_steps // config.log_every
    assert (tmp_path / "curves.png").exists() and (tmp_path / "graph.png").exists()


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_gnn_lrp_default_reaches_95_percent_and_conserves_relevance(tmp_path):
    config = lrp_default.get_config()
    config.progress = False
    result = lrp.train_and_evaluate(config, tmp_path)
    assert result["metrics"]["test_accuracy"] >= 0.95
    explained = result["explained"]
    assert [e["growth"] for e in explained] == [1, 2]
    for e in explained:
        assert e["rel_error"] <= 1e-4 and e["output"] > 0
        assert len(e["top_walks"]) == config.num_walks
    assert (tmp_path / "walks.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metrics"]["conservation_max_rel_error"] <= 1e-4


def test_recipes_are_listed_and_config_mistakes_are_one_sentence(tmp_path, capsys):
    assert {"gcn_karate", "gnn_lrp"} <= set(recipes())
    args = ["gnn_lrp", f"--workdir={tmp_path}", "--config.adjacency=laplace"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "config.adjacency is 'laplace', expected 'sum' or 'gcn'." in err
    assert err.count("\n") == 1
    config = karate_default.get_config()
    config.labelled = (0, 34)
    with pytest.raises(ConfigError, match=r"config.labelled is \(0, 34\), expected node ids"):
        karate.train_and_evaluate(config, tmp_path)
