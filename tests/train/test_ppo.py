"""The ppo recipe through the entry point: artefacts, config mistakes, resume."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from jaxdl.rl import PPOConfig
from jaxdl.training import run as run_module
from tests._pause import kill_after_epoch
from train.__main__ import main
from train.ppo.configs import default

REPO = Path(__file__).resolve().parents[2]
QUICK = ["ppo", "--config=quick"]  # 4 epochs of 2 updates, 2 seeds
TIMING = ("env_steps_per_s", "compile_s", "train_examples_per_s")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    """The workdir of one uninterrupted quick run, shared by the tests below."""
    workdir = tmp_path_factory.mktemp("ppo_quick")
    assert main([*QUICK, f"--workdir={workdir}"]) == 0
    return workdir


@pytest.mark.slow
def test_quick_run_leaves_its_artefacts(quick_run):
    workdir = quick_run
    summary = json.loads((workdir / "summary.json").read_text())
    m = summary["metrics"]
    assert m["num_seeds"] == 2 and len(summary["per_seed_return"]) == 2
    assert 5 < m["mean_return"] <= 500 and 5 < m["random_policy_return"] < 60
    assert (workdir / "returns.png").stat().st_size > 1000
    records = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4] and records[-1]["step"] == 8
    assert records[-1]["env_steps"] == 8 * 4 * 128
    assert {"return_mean", "return_min", "train_value_loss"} <= set(records[-1])
    with np.load(workdir / "step_metrics.npz") as f:
        returns = f["episode_return"]
    assert returns.shape == (2, 8)  # seeds x updates
    np.testing.assert_allclose(summary["per_seed_return"], returns.mean(1), atol=0.01)
    # The newest 2 (max_to_keep), keyed by update: epochs 3 and 4 of 2 updates each.
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["6", "8"]


def test_config_mistakes_are_one_sentence(tmp_path, capsys):
    assert (
        main(["ppo", "--config=quick", f"--workdir={tmp_path}", "--config.env_name=CartPole-v0"])
        == 2  # a usage error
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "error: config.env_name is 'CartPole-v0', which is not a gymnax environment; "
        "expected one of: "
    )
    assert "\n" not in err
    assert (
        main(["ppo", "--config=quick", f"--workdir={tmp_path}", "--config.num_minibatches=5"]) == 2
    )
    assert "error: config.num_minibatches is 5, which does not divide" in capsys.readouterr().err
    assert main(["ppo", "--config=quick", f"--workdir={tmp_path}", "--config.num_seeds=0"]) == 2
    assert "config.num_seeds is 0, expected at least 1" in capsys.readouterr().err
    assert main([*QUICK, f"--workdir={tmp_path}", "--config.updates_per_epoch=0"]) == 2
    assert "config.updates_per_epoch is 0, expected an integer >= 1." in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # a config mistake is caught before the run opens


def test_library_defaults_are_the_default_config():
    config = default.get_config()
    assert dataclasses.asdict(PPOConfig()) == {
        f.name: config[f.name] for f in dataclasses.fields(PPOConfig)
    }


def outcome(workdir: Path) -> dict:
    """Everything a finished run leaves that must not depend on an interruption: the
    summary (but timing), the per-epoch records (but speed), every update's metrics and
    the final checkpoint (parameters, optimiser, environments, keys)."""
    summary = json.loads((workdir / "summary.json").read_text())
    records = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    with np.load(workdir / "step_metrics.npz") as f:
        updates = {k: f[k] for k in f.files}
    manager = ocp.CheckpointManager(workdir / "checkpoints")
    epoch = manager.latest_step()
    state = manager.restore(epoch, args=ocp.args.Composite(state=ocp.args.StandardRestore(None)))[
        "state"
    ]
    manager.close()
    return {
        "metrics": {k: v for k, v in summary["metrics"].items() if k not in TIMING},
        "per_seed_return": summary["per_seed_return"],
        "records": [{k: v for k, v in r.items() if k not in TIMING} for r in records],
        "updates": updates,
        "epoch": epoch,
        "state": {
            jax.tree_util.keystr(k): np.asarray(v)
            for k, v in jax.tree_util.tree_flatten_with_path(state)[0]
        },
    }


@pytest.fixture(scope="module")
def uninterrupted(quick_run) -> dict:
    return outcome(quick_run)


class Crash(Exception):
    pass


def resumed_from(monkeypatch) -> list[int]:
    """Records the epoch each run restores (0: none), so a test knows a run resumed."""
    restored: list[int] = []
    restore = run_module.Run.restore

    def spy(self, state, shardings=None, *, stage=""):
        progress, state = restore(self, state, shardings, stage=stage)
        restored.append(0 if progress is None else progress["epoch"])
        return progress, state

    monkeypatch.setattr(run_module.Run, "restore", spy)
    return restored


@pytest.mark.slow
def test_a_crashed_run_resumes_bit_identically(tmp_path, monkeypatch, uninterrupted):
    save_progress = run_module.Run.save_progress

    def crash_after_2(self, key, state, progress, record=None, *, stage=""):
        save_progress(self, key, state, progress, record, stage=stage)
        if record is not None and record["epoch"] == 2:
            raise Crash

    with monkeypatch.context() as m:
        m.setattr(run_module.Run, "save_progress", crash_after_2)
        with pytest.raises(Crash):
            main([*QUICK, f"--workdir={tmp_path}"])
    assert not (tmp_path / "summary.json").exists()
    restored = resumed_from(monkeypatch)
    assert main([*QUICK, f"--workdir={tmp_path}", "--config.resume=true"]) == 0
    assert restored == [2]  # it continued from the checkpoint of epoch 2
    np.testing.assert_equal(outcome(tmp_path), uninterrupted)


@pytest.mark.slow
def test_a_killed_run_resumes_bit_identically(tmp_path, monkeypatch, uninterrupted):
    workdir, marker = tmp_path / "run", tmp_path / "epoch2"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "JAX_PLATFORMS": "cpu",
        # The test session's compilation cache, so the child does not compile again.
        "JAX_COMPILATION_CACHE_DIR": str(jax.config.jax_compilation_cache_dir or ""),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    kill_after_epoch([*QUICK, f"--workdir={workdir}"], marker=marker, epoch=2, cwd=REPO, env=env)
    assert not (workdir / "summary.json").exists()
    restored = resumed_from(monkeypatch)
    assert main([*QUICK, f"--workdir={workdir}", "--config.resume=true"]) == 0
    assert restored == [2]  # epoch 2's checkpoint: saved before its record
    np.testing.assert_equal(outcome(workdir), uninterrupted)
