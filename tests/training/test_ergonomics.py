"""What the command line and the driver show a user: --help, throughput, epoch lines,
optional tensorboardX and matplotlib, and a workdir released after a failure."""

from __future__ import annotations

import pytest

from train.__main__ import main


def test_help_mentions_config_overrides(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--config.FIELD=VALUE" in out and "RECIPE" in out


@pytest.mark.parametrize("config", [None, "quick"])
def test_recipe_help_lists_fields_defaults_and_comments(capsys, config):
    args = ["fashion_mnist", "--help"] + ([f"--config={config}"] if config else [])
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    batch = 32 if config == "quick" else 128
    assert any(line.split()[:2] == ["batch_size", str(batch)] for line in lines), out
    # A comment on the field's line (_common.add_scale_fields) ...
    assert "micro-batches per step, gradients averaged" in out
    # ... above it (the config file itself) ...
    assert "The conv blocks' normalisation" in out
    # ... and the lifecycle fields every config gets.
    assert any(line.split()[:2] == ["resume", "True"] for line in lines)
    assert "continue the run the workdir holds" in out


def test_recipe_help_shows_overrides(capsys):
    assert main(["fashion_mnist", "--config=quick", "--config.seed=7", "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["seed", "7"] for line in lines)
