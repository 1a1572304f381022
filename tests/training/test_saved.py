"""Loading what was trained: checkpoints are nested pytrees that plain orbax reads, a
model's weights restore without its optimiser, and the safetensors export round-trips."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from jaxdl.errors import CheckpointMismatchError
from jaxdl.training import (
    Checkpointer,
    TrainState,
    export_model,
    load_exported,
    restore_weights,
)


class Net(nnx.Module):
    """Parameters, BatchNorm statistics, a list of layers and a dropout PRNG stream: every
    kind of variable a checkpoint or an export must carry."""

    def __init__(self, seed: int):
        rngs = nnx.Rngs(seed)
        self.dense = nnx.Linear(3, 4, rngs=rngs)
        self.norm = nnx.BatchNorm(4, rngs=rngs)
        self.blocks = nnx.List([nnx.Linear(4, 4, rngs=rngs), nnx.Linear(4, 2, rngs=rngs)])
        self.drop = nnx.Dropout(0.5, rngs=nnx.Rngs(dropout=seed))

    def __call__(self, x):
        x = self.drop(self.norm(self.dense(x)))
        for block in self.blocks:
            x = block(x)
        return x


def trained() -> Net:
    """A Net whose every variable differs from a fresh one's (statistics, stream count)."""
    model = Net(0)
    model(jnp.ones((5, 3)))  # BatchNorm statistics and the dropout count move
    return model


def raw(x: jax.Array) -> jax.Array:
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def values(model: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(raw(x)) for x in jax.tree.leaves(nnx.state(model))]


def assert_identical(a: nnx.Module, b: nnx.Module) -> None:
    va, vb = values(a), values(b)
    assert len(va) == len(vb)
    for x, y in zip(va, vb, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def save_state(folder, model: nnx.Module, key: int = 3) -> TrainState:
    state = TrainState.create(model, optax.adam(1e-3), key=jax.random.key(0))
    ckpt = Checkpointer(folder)
    ckpt.save(key, state, {"epoch": key})
    ckpt.close()
    return state


def test_checkpoints_are_nested_pytrees_that_plain_orbax_reads(tmp_path):
    state = save_state(tmp_path, trained())
    restored = ocp.StandardCheckpointer().restore(tmp_path / "3" / "state")
    assert sorted(restored) == ["key", "model_state", "opt_state", "params", "step"]
    np.testing.assert_array_equal(
        restored["params"]["dense"]["kernel"], state.params["dense"]["kernel"][...]
    )
    np.testing.assert_array_equal(
        restored["params"]["blocks"]["1"]["bias"], state.params["blocks"][1]["bias"][...]
    )
    np.testing.assert_array_equal(
        restored["model_state"]["norm"]["mean"], state.model_state["norm"]["mean"][...]
    )
    np.testing.assert_array_equal(restored["key"], jax.random.key_data(state.key))
    assert set(restored["opt_state"]["0"]) == {"count", "mu", "nu"}


def test_weights_restore_without_the_optimiser(tmp_path):
    model = trained()
    save_state(tmp_path, model)
    fresh = Net(1)
    with pytest.raises(AssertionError):
        assert_identical(model, fresh)
    assert restore_weights(fresh, tmp_path) == 3
    assert_identical(model, fresh)
    # A workdir is read through its checkpoints/ folder.
    save_state(tmp_path / "run" / "checkpoints", model, key=9)
    assert restore_weights(Net(2), tmp_path / "run") == 9


def test_restore_weights_reads_no_optimiser_state(tmp_path, monkeypatch):
    state = save_state(tmp_path, trained())
    asked = []
    real = ocp.PyTreeCheckpointHandler.restore

    def spy(self, directory, *a, args=None, **kw):
        asked.append(sorted(args.item))
        return real(self, directory, *a, args=args, **kw)

    monkeypatch.setattr(ocp.PyTreeCheckpointHandler, "restore", spy)
    model = Net(1)
    restore_weights(model, tmp_path)
    # Adam's two moments, the step and the key stay on disk: half the bytes of a resume.
    assert asked == [["model_state", "params"]]
    np.testing.assert_array_equal(model.dense.kernel[...], state.params["dense"]["kernel"][...])


def test_weights_of_another_model_are_refused_and_no_checkpoint_is_named(tmp_path):
    save_state(tmp_path / "a", nnx.Linear(3, 4, rngs=nnx.Rngs(0)))
    with pytest.raises(CheckpointMismatchError, match="has no"):
        restore_weights(Net(0), tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        restore_weights(Net(0), tmp_path / "empty")


def test_flat_checkpoints_of_earlier_versions_still_restore(tmp_path):
    state = TrainState.create(trained(), optax.adam(1e-3), key=jax.random.key(4))
    # How jaxdl wrote checkpoints before they were nested: one string key per leaf.
    flat = {
        jax.tree_util.keystr(p): raw(x) for p, x in jax.tree_util.tree_flatten_with_path(state)[0]
    }
    with ocp.CheckpointManager(tmp_path) as manager:
        manager.save(2, args=ocp.args.Composite(state=ocp.args.StandardSave(flat)))
        manager.wait_until_finished()
    template = TrainState.create(Net(1), optax.adam(1e-3), key=jax.random.key(0))
    ckpt = Checkpointer(tmp_path)
    key, restored = ckpt.restore(template)
    ckpt.close()
    assert key == 2
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored), strict=True):
        assert np.array_equal(raw(a), raw(b))


def test_export_round_trips_bit_for_bit(tmp_path):
    model = trained()
    export_model(model, tmp_path, config={"seed": 0, "widths": [4, 2]})
    fresh = Net(1)
    assert load_exported(fresh, tmp_path) == {"seed": 0, "widths": [4, 2]}
    assert_identical(model, fresh)
    x = jnp.arange(6.0).reshape(2, 3)
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(model(x), fresh(x))
    # The names are the model's dotted paths, readable by any safetensors reader.
    from safetensors.numpy import load_file

    names = set(load_file(tmp_path / "model.safetensors"))
    assert {"dense.kernel", "norm.mean", "blocks.1.bias", "drop.rngs.key"} <= names
    assert json.loads((tmp_path / "config.json").read_text())["widths"] == [4, 2]


def test_an_export_of_another_shape_is_refused(tmp_path):
    export_model(nnx.Linear(3, 4, rngs=nnx.Rngs(0)), tmp_path)
    with pytest.raises(CheckpointMismatchError, match=r"bias has shape \(4,\), expected \(5,\)"):
        load_exported(nnx.Linear(3, 5, rngs=nnx.Rngs(0)), tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_exported(nnx.Linear(3, 4, rngs=nnx.Rngs(0)), tmp_path / "nowhere")
