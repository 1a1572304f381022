"""The ``runs`` mesh axis: a vmapped stack of runs (PPO's seeds, a makemore sweep group,
the GCN's seeds) split over devices. The unit tests run in the fast tier; the recipe
runs (subprocesses with simulated CPU devices, see runs_axis.py) are slow."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AbstractMesh, AxisType
from jax.sharding import PartitionSpec as P

from jaxdl import parallel
from jaxdl.training import FullBatch, make_chunk, train

ROOT = pathlib.Path(__file__).resolve().parents[2]
SWEEP8 = "tests/parallel/configs/makemore_sweep8.py"  # one group of 8 runs


def _abstract(**axes: int) -> AbstractMesh:
    """A mesh of any shape without the devices: enough for the shardings' specs."""
    return AbstractMesh(tuple(axes.values()), tuple(axes), axis_types=(AxisType.Auto,) * len(axes))


def test_runs_is_a_known_axis_but_not_a_batch_axis():
    assert parallel.parse_mesh("runs=8") == {"runs": 8}
    assert parallel.parse_mesh("runs=4,data=2") == {"runs": 4, "data": 2}
    assert "runs" in parallel.AXES and "runs" not in parallel.BATCH_AXES
    assert set(parallel.BATCH_AXES) == {"data", "fsdp"}
    mesh = parallel.make_mesh("runs=1,data=1")
    assert parallel.batch_axes(mesh) == ("data",)
    assert parallel.batch_sharding(mesh).spec == P(("data",))
    assert parallel.runs_size(mesh) == 1 and parallel.runs_size(parallel.make_mesh("")) == 1
    assert parallel.batch_axes(_abstract(runs=4, data=2)) == ("data",)
    assert parallel.batch_axes(_abstract(runs=8)) == ()


def test_check_num_runs_names_the_argument_got_and_expected():
    mesh = _abstract(runs=4, data=2)
    parallel.check_num_runs(8, mesh)
    parallel.check_num_runs(3, _abstract(data=2))  # no runs axis: anything splits
    with pytest.raises(ValueError, match=r"config.num_seeds is 6, .* size 4; expected a multiple"):
        parallel.check_num_runs(6, mesh, name="config.num_seeds")


def test_vmapped_state_shardings_split_the_stack_over_runs():
    key = jax.random.key(0).dtype
    stack = {
        "w": jax.ShapeDtypeStruct((8, 6, 4), jnp.float32),
        "b": jax.ShapeDtypeStruct((8, 3), jnp.float32),
        "step": jax.ShapeDtypeStruct((8,), jnp.int32),
        "key": jax.ShapeDtypeStruct((8,), key),
    }
    specs = lambda m, **kw: {  # noqa: E731
        k: s.spec for k, s in parallel.state_shardings(stack, m, **kw).items()
    }
    # runs on every leaf's leading axis, PRNG keys included; FSDP on the rest as before.
    assert specs(_abstract(runs=4, fsdp=2), vmapped=True) == {
        "w": P("runs", "fsdp", None),
        "b": P("runs"),  # 3 does not split over fsdp=2
        "step": P("runs"),
        "key": P("runs"),
    }
    assert specs(_abstract(runs=8), vmapped=True) == dict.fromkeys(stack, P("runs"))
    # Without a runs axis the stack is replicated (FSDP never splits the stack axis).
    assert specs(_abstract(data=2), vmapped=True) == dict.fromkeys(stack, P())
    assert specs(_abstract(fsdp=2), vmapped=True)["w"] == P(None, "fsdp", None)
    # Not vmapped: as before, keys replicated, FSDP may take the leading axis.
    assert specs(_abstract(fsdp=2))["w"] == P("fsdp", None, None)
    assert specs(_abstract(fsdp=2))["key"] == P()
    with pytest.raises(ValueError, match="does not split over the mesh's runs axis of size 3"):
        parallel.state_shardings(stack, _abstract(runs=3), vmapped=True)
    with pytest.raises(ValueError, match="scalar leaf"):
        parallel.state_shardings({"s": jnp.zeros(())}, _abstract(runs=1), vmapped=True)


class _State(NamedTuple):
    """The least a custom step's state needs: arrays and a step counter."""

    w: jax.Array
    step: jax.Array


def _stack(num_runs: int) -> _State:
    return _State(jnp.arange(num_runs, dtype=jnp.float32), jnp.zeros(num_runs, jnp.int32))


def _step(state, batch, bad_step):
    w = state.w - 0.1 * jnp.mean(batch["x"] * state.w)
    return _State(w, state.step + 1), bad_step, {"w": w}


def test_engine_trains_a_stack_on_a_runs_mesh_and_checks_its_size():
    source = FullBatch({"x": jnp.ones(4)}, steps_per_epoch=3)
    kwargs = dict(loss_fn=None, num_epochs=1, step_fn=_step, vmapped=True, progress=False)
    plain = train(_stack(2), source, **kwargs)
    mesh = parallel.make_mesh("runs=1")
    on_mesh = train(_stack(2), source, mesh=mesh, **kwargs)
    assert on_mesh.state.w.sharding.spec == P("runs")
    np.testing.assert_array_equal(on_mesh.state.w, plain.state.w)
    # The chunk built with the mesh vmaps over runs too (spmd_axis_name).
    chunk = make_chunk(None, source, vmapped=True, step_fn=_step, mesh=mesh)
    state, *_ = chunk(_stack(2), source.data, None, 3)
    np.testing.assert_array_equal(state.w, plain.state.w)
    # The checks come before any placing, so a mesh of absent devices shows them.
    with pytest.raises(ValueError, match=r"number of runs .* is 2, .* size 4; expected a mul"):
        train(_stack(2), source, mesh=_abstract(runs=4), **kwargs)
    one_run = _State(jnp.zeros(2), jnp.int32(0))
    with pytest.raises(ValueError, match="runs axis of size 4, expected none"):
        train(one_run, source, mesh=_abstract(runs=4), **kwargs | {"vmapped": False})


# --- Recipes on simulated devices --------------------------------------------------------


def _scenario(tmp_path, devices: int, mesh: str, *recipe_args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)  # the subprocess sets its own device count
    out = subprocess.run(
        [sys.executable, "-m", "tests.parallel.runs_axis", str(devices), mesh, str(tmp_path)]
        + list(recipe_args),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _names_file(tmp_path) -> str:
    from tests.charlm.test_charlm import WORDS

    path = tmp_path / "names.txt"
    path.write_text("\n".join(WORDS * 3) + "\n")
    return str(path)


def _assert_split_over(layout: list[list[dict]], runs: int, devices: int) -> None:
    """Every leaf of every stack lives on all devices, its leading axis cut in ``runs``."""
    for stack in layout:
        for leaf in stack:
            assert leaf["devices"] == devices, leaf
            shape = leaf["shape"]
            shard = shape if runs == 1 else [shape[0] // runs, *shape[1:]]
            assert leaf["shard_shapes"] == [shard], leaf


# Why not bit for bit: the partitioned programs round differently from the one-device
# one, by an ulp here and there that the steps then carry on. Two causes, measured:
# XLA's CPU reductions (a loss's mean, a gradient's sum) order their additions by the
# shape of the whole array, so a batched reduction over a stack of 8 on one device and
# over 1 run per device differ (while each device's part equals a stack of 1 on one
# device, bit for bit); and a program compiled for a mesh fuses differently even where
# nothing is split (GCN on data=2: after one step the gradients and Adam's moments are
# equal bit for bit, the updated parameters an ulp apart). The tolerances, on
# |a - b| / max(|a|, 1) over every leaf of the final states and on the summaries' final
# metrics, are about 10x the measured gaps (runs=8: PPO 6.0e-8; GCN 1.1e-6, the same
# with 4 runs per device on runs=2; makemore's sweep 1.6e-4 after 200 SGD steps at
# learning rates up to 0.4).
RUNS = {
    "ppo": ("runs=8", ["ppo", "--config=quick", "--config.num_seeds=8"], 1e-6),
    "gcn_karate": ("runs=8", ["gcn_karate", "--config=quick", "--config.num_seeds=8"], 1e-5),
    "makemore_sweep": ("runs=8", ["makemore", f"--config={SWEEP8}"], 2e-3),
    # Both at once: 2 runs per pair of devices, each run's batch split over the pair,
    # which reorders the gradient's sums too (measured 8.9e-4, so 10x is looser here).
    "makemore_sweep_data": ("runs=4,data=2", ["makemore", f"--config={SWEEP8}"], 1e-2),
}


# `make test-slow` runs the GCN's seeds and makemore's sweep over runs and data together;
# the rest (PPO's two minutes among them) runs in `make test-long`.
LONG_RUNS = {"ppo", "makemore_sweep"}
LONG_DATA2 = {"ppo", "gcn_karate"}


def _params(names, long):
    return [pytest.param(n, marks=pytest.mark.long) if n in long else n for n in sorted(names)]


@pytest.mark.slow
@pytest.mark.parametrize("name", _params(RUNS, LONG_RUNS))
def test_runs_axis_equals_one_device_and_restores_onto_the_mesh(tmp_path, name):
    mesh, args, tol = RUNS[name]
    if name.startswith("makemore"):
        args = [*args, f"--config.data_path={_names_file(tmp_path)}"]
    out = _scenario(tmp_path, 8, mesh, *args)
    runs = parallel.parse_mesh(mesh)["runs"]
    assert out["devices"] == 8
    _assert_split_over(out["layout"], runs=runs, devices=8)
    assert out["compare"]["max_rel_diff"] <= tol, out["compare"]
    assert out["one"].keys() == out["mesh"].keys()
    for k, v in out["one"].items():
        assert out["mesh"][k] == pytest.approx(v, rel=tol, abs=tol), k
    # The finished run's checkpoint, restored onto the mesh: the same state, still split.
    assert out["restored"]["bit_identical"], out["restored"]
    _assert_split_over(out["restored_layout"], runs=runs, devices=8)


# data=2: ppo and gcn_karate have no batch to split (the runs are replicated); makemore's
# quick run (one run, not vmapped) splits each batch of 32 in two. Measured gaps (see
# above for why there are any): PPO 6.0e-8, GCN 1.9e-7, makemore 2.1e-6.
DATA2 = {
    "ppo": (["ppo", "--config=quick"], 1e-6),
    "gcn_karate": (["gcn_karate", "--config=quick"], 1e-5),
    "makemore": (["makemore", "--config=quick"], 1e-4),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", _params(DATA2, LONG_DATA2))
def test_data_2_runs_each_recipe_like_one_device(tmp_path, name):
    args, tol = DATA2[name]
    if name == "makemore":
        args = [*args, f"--config.data_path={_names_file(tmp_path)}"]
    out = _scenario(tmp_path, 2, "data=2", *args)
    assert out["devices"] == 2
    _assert_split_over(out["layout"], runs=1, devices=2)  # replicated: whole on both
    assert out["compare"]["max_rel_diff"] <= tol, out["compare"]
    for k, v in out["one"].items():
        assert out["mesh"][k] == pytest.approx(v, rel=tol, abs=tol), k
    assert out["restored"]["bit_identical"], out["restored"]
