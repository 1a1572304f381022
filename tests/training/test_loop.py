from __future__ import annotations

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.errors import NonFiniteLossError, RunMismatchError
from jaxdl.training import Checkpointer, classifier_eval, classifier_loss, fit
from tests.training.helpers import tiny_data, tiny_state, to_float

LOSS = to_float(classifier_loss)
EVAL = to_float(classifier_eval)
KW = dict(loss_fn=LOSS, eval_fn=EVAL, batch_size=16, eval_batch_size=32, progress=False)


def run(workdir=None, *, num_epochs, resume=True, overwrite=False, seed=0, steps_per_dispatch=3):
    return fit(
        tiny_state(seed),
        tiny_data(),
        tiny_data(40, seed=1),
        num_epochs=num_epochs,
        data_key=jax.random.key(seed + 7),
        workdir=workdir,
        resume=resume,
        overwrite=overwrite,
        steps_per_dispatch=steps_per_dispatch,
        **KW,
    )


def test_fit_writes_metrics_tensorboard_curves_and_checkpoints(tmp_path):
    result = run(tmp_path, num_epochs=4)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4]
    assert lines[-1]["step"] == 4 * 6
    assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy"} <= set(lines[-1])
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    # Epoch 1 compiles (its time is recorded on its own), the others do not.
    assert lines[0]["compile_s"] > 0 and not any("compile_s" in r for r in lines[1:])
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    ckpt = Checkpointer(tmp_path / "checkpoints")
    assert ckpt.manager.all_steps() == [12, 18, 24]  # the newest 3, keyed by step
    assert result.metrics == lines[-1]


def test_same_seed_same_result_bit_for_bit():
    a, b = run(num_epochs=2), run(num_epochs=2)
    chex.assert_trees_all_equal(a.state.params, b.state.params)
    chex.assert_trees_all_equal(a.state.model_state, b.state.model_state)
    c = run(num_epochs=2, seed=1)
    assert not np.array_equal(
        jax.tree.leaves(a.state.params)[0], jax.tree.leaves(c.state.params)[0]
    )


def test_chunking_does_not_change_the_result():
    a = run(num_epochs=1, steps_per_dispatch=0)
    b = run(num_epochs=1, steps_per_dispatch=4)  # 4 + 2 steps
    chex.assert_trees_all_close(a.state.params, b.state.params, rtol=1e-6, atol=1e-7)


def test_resume_is_bit_identical(tmp_path):
    straight = run(tmp_path / "straight", num_epochs=3)
    run(tmp_path / "split", num_epochs=1)
    resumed = run(tmp_path / "split", num_epochs=3, resume=True)
    chex.assert_trees_all_equal(straight.state.params, resumed.state.params)
    chex.assert_trees_all_equal(straight.state.model_state, resumed.state.model_state)
    chex.assert_trees_all_equal(straight.state.opt_state, resumed.state.opt_state)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert resumed.history[-1]["test_loss"] == straight.history[-1]["test_loss"]


def test_not_resuming_is_refused_and_overwrite_starts_over(tmp_path):
    run(tmp_path, num_epochs=2)
    with pytest.raises(RunMismatchError, match="already holds this run"):
        run(tmp_path, num_epochs=2, resume=False)
    again = run(tmp_path, num_epochs=1, overwrite=True)
    assert [r["epoch"] for r in again.history] == [1]
    assert Checkpointer(tmp_path / "checkpoints").manager.all_steps() == [6]
    assert not (tmp_path / ".previous").exists()


def test_half_written_checkpoint_is_ignored(tmp_path):
    run(tmp_path, num_epochs=2)
    # What a save killed before orbax's final rename leaves behind.
    junk = tmp_path / "checkpoints" / "13.orbax-checkpoint-tmp-123"
    junk.mkdir()
    (junk / "partial").write_text("x")
    ckpt = Checkpointer(tmp_path / "checkpoints")
    assert ckpt.latest_epoch() == 12
    # Orbax removes it in the background and awaits that before its next save.
    ckpt.save(13, tiny_state())
    ckpt.wait()
    assert not junk.exists()
    assert ckpt.latest_epoch() == 13
    ckpt.close()


def test_non_finite_loss_stops_with_one_sentence_and_keeps_last_good(tmp_path):
    first = run(tmp_path, num_epochs=1)

    def exploding(model, batch, *, train, key):
        loss, metrics = LOSS(model, batch, train=train, key=key)
        return loss * jnp.nan, {**metrics, "loss": loss * jnp.nan}

    with pytest.raises(NonFiniteLossError) as info:
        fit(
            tiny_state(),
            tiny_data(),
            num_epochs=3,
            data_key=jax.random.key(7),
            workdir=tmp_path,
            resume=True,
            **{**KW, "loss_fn": exploding},
        )
    message = str(info.value)
    assert "step 6 (epoch 2)" in message
    assert "last good checkpoint (epoch 1, step 6, in" in message
    assert message.count(".") <= 3 and "\n" not in message
    key, restored = Checkpointer(tmp_path / "checkpoints").restore(tiny_state())
    assert key == 6
    chex.assert_trees_all_equal(restored.params, first.state.params)
