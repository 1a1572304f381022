"""The lotka_volterra and neural_ode recipes on their quick configs, through the CLI entry."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main, recipes
from train.cli_config import load_config
from train.neural_ode import train as neural_ode


def test_recipes_are_discovered():
    assert {"lotka_volterra", "neural_ode"} <= set(recipes())


@pytest.mark.slow
def test_lotka_volterra_quick(tmp_path, capsys):
    assert main(["lotka_volterra", "--config=quick", f"--workdir={tmp_path}"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    m = summary["metrics"]
    assert m["tsit5_vs_scipy_max_diff"] < 1e-6 and m["dopri5_vs_scipy_max_diff"] < 1e-6
    assert 3.8 < m["rk4_order"] < 4.2 and "euler_order" not in m
    for name in ("trajectory.png", "phase_portrait.png", "convergence.png", "solvers.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert "lotka_volterra (quick) finished" in capsys.readouterr().out


@pytest.mark.slow
def test_neural_ode_quick_learns_and_writes_artefacts(tmp_path):
    assert main(["neural_ode", "--config=quick", f"--workdir={tmp_path}"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    m = summary["metrics"]
    assert m["final_loss"] < m["initial_loss"]
    assert m["extrapolation_loss"] > 0
    for name in ("curves.png", "trajectories.png", "phase_portrait.png", "prediction.npz"):
        assert (tmp_path / name).stat().st_size > 0
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    config = load_config("neural_ode", "quick")
    assert history[0] == {"epoch": 0, "step": 0, "train_full_loss": m["initial_loss"]}
    assert history[-1]["step"] == sum(config.stage_iters)
    assert [r["window_length"] for r in history[1:]] == [11, 11, 101, 101]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("window_lengths", (11, 600), "window_lengths has 600"),
        ("stage_iters", (20,), "one entry per stage"),
        ("adjoint", "direct", "config.adjoint is 'direct'"),
        ("solver", "rk45", "config.solver is 'rk45'"),
        ("schedule", "step", "config.schedule is 'step'"),
    ],
)
def test_neural_ode_config_errors_are_one_sentence(tmp_path, capsys, field, value, message):
    config = load_config("neural_ode", "quick")
    config[field] = value
    with pytest.raises(Exception, match=message):
        neural_ode.check_config(config)
        neural_ode.build_optimizer(config)
        neural_ode.solve_options(config)
    override = f"--config.{field}={value}"  # the CLI reads a bare word as a string
    assert main(["neural_ode", "--config=quick", f"--workdir={tmp_path}", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_neural_ode_step_limit_is_one_sentence(tmp_path, capsys):
    code = main(["neural_ode", "--config=quick", f"--workdir={tmp_path}", "--config.max_steps=3"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: The ODE solve") and "max_steps=3" in err
    assert err.count("\n") == 1  # one sentence, no traceback or equinox banner
