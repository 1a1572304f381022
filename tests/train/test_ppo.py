"""The ppo recipe through the entry point."""

from __future__ import annotations

import dataclasses
import json

from jaxdl.rl import PPOConfig
from train.__main__ import main
from train.ppo.configs import default


def test_quick_run_leaves_its_artefacts(tmp_path):
    assert main(["ppo", "--config=quick", f"--workdir={tmp_path}"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    m = summary["metrics"]
    assert m["num_seeds"] == 2 and len(summary["per_seed_return"]) == 2
    assert 5 < m["mean_return"] <= 500 and 5 < m["random_policy_return"] < 60
    assert (tmp_path / "returns.png").stat().st_size > 1000
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 8 and json.loads(lines[-1])["env_steps"] == 8 * 4 * 128
    assert (tmp_path / "checkpoints").is_dir()


def test_config_mistakes_are_one_sentence(tmp_path, capsys):
    assert (
        main(["ppo", "--config=quick", f"--workdir={tmp_path}", "--config.env_name=CartPole-v0"])
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "error: config.env_name is 'CartPole-v0', which is not a gymnax environment; "
        "expected one of: "
    )
    assert "\n" not in err
    assert (
        main(["ppo", "--config=quick", f"--workdir={tmp_path}", "--config.num_minibatches=5"]) == 1
    )
    assert "error: config.num_minibatches is 5, which does not divide" in capsys.readouterr().err
    assert main(["ppo", "--config=quick", f"--workdir={tmp_path}", "--config.num_seeds=0"]) == 1
    assert "config.num_seeds is 0, expected >= 1." in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # a config mistake is caught before the run opens


def test_library_defaults_are_the_default_config():
    config = default.get_config()
    assert dataclasses.asdict(PPOConfig()) == {
        f.name: config[f.name] for f in dataclasses.fields(PPOConfig)
    }
