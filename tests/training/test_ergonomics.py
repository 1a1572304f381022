"""What the command line and the driver show a user: --help, throughput, epoch lines,
optional tensorboardX and matplotlib, and a workdir released after a failure."""

from __future__ import annotations

import errno
import functools
import sys
import time
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl.errors import NonFiniteLossError, WorkdirError
from jaxdl.training import (
    TrainState,
    epoch_line,
    fit,
    logging,
    train,
)
from jaxdl.training import run as run_module
from jaxdl.training.checkpoint import Checkpointer
from jaxdl.training.logging import MetricsWriter
from jaxdl.training.run import Run
from jaxdl.training.sources import Permuted
from jaxdl.viz import curves
from tests.training.helpers import tiny_data
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


COMPILE_S, STEP_S = 0.3, 0.01


def fake_chunk():
    """A chunk that 'compiles' for COMPILE_S on its first call per length (and says so
    the way JAX does) and takes STEP_S per step: throughput is 16 / STEP_S."""
    seen = set()

    def chunk(state, data, inputs, length):
        if length not in seen:
            seen.add(length)
            time.sleep(COMPILE_S)
            jax.monitoring.record_event_duration_secs(
                "/jax/core/compile/backend_compile_duration", COMPILE_S
            )
        time.sleep(STEP_S * length)
        return state, {"loss": np.zeros(length)}, {"loss": 0.0}, np.int32(-1)

    return chunk


@pytest.mark.parametrize("steps_per_dispatch", [2, 0])
def test_throughput_leaves_compilation_out(steps_per_dispatch):
    source = Permuted(tiny_data(), 16, jax.random.key(0))  # 6 steps per epoch
    # Only the step counter of the state matters to the driver here.
    result = train(
        SimpleNamespace(step=np.int32(0)),
        source,
        loss_fn=None,
        num_epochs=2,
        chunk_fn=fake_chunk(),
        steps_per_dispatch=steps_per_dispatch,
        progress=False,
        epoch_lines=False,
    )
    first, second = result.history
    # The source's first eager operations (the permutation) compile too, unless the
    # persistent compilation cache already holds them; compile_s is a difference of
    # running totals, so allow for rounding.
    assert first["compile_s"] >= COMPILE_S - 1e-6
    assert "compile_s" not in second
    # Counting the compilation, epoch 1 would do 96 / 0.36 = 267 examples/s.
    expected = 16 / STEP_S
    for record in (first, second):
        assert expected / 1.5 < record["train_examples_per_s"] <= expected * 1.05, record


def test_epoch_line_shows_custom_metrics_speed_and_compile_time():
    record = {
        "epoch": 2,
        "step": 12,
        "test_top5": 0.987654,
        "train_grad_norm": 1234.5678,
        "test_accuracy": 0.5,
        "train_loss": 0.25,
        "train_examples_per_s": 5633.2,
        "compile_s": 3.21,
        "lr": 0.1,  # not a train_/test_ metric: left out
    }
    assert epoch_line(record) == (
        "epoch   2 | train_loss 0.2500 | test_accuracy 0.5000 | test_top5 0.9877 | "
        "train_grad_norm 1235 | 5633 examples/s | compiled in 3.2 s"
    )


class Linear(nnx.Module):
    """The smallest classifier of the tiny images: fits in a second."""

    def __init__(self, rngs: nnx.Rngs):
        self.dense = nnx.Linear(28 * 28, 10, rngs=rngs)

    def __call__(self, x):
        return self.dense(x.reshape(x.shape[0], -1).astype(jnp.float32) / 255.0)


def linear_loss(model, batch, *, train, key, scale=1.0):
    logits = model(batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss * scale, {"loss": loss * scale}


def linear_fit(workdir, **kw):
    state = TrainState.create(Linear(nnx.Rngs(0)), optax.sgd(0.1), key=jax.random.key(1))
    kw = {"loss_fn": linear_loss, "num_epochs": 2, **kw}
    return fit(
        state,
        tiny_data(64),
        batch_size=16,
        data_key=jax.random.key(2),
        workdir=workdir,
        progress=False,
        **kw,
    )


def test_fit_without_tensorboardx_or_matplotlib_and_after_a_failure(tmp_path, monkeypatch, capsys):
    # A None in sys.modules makes the import fail as if the package were missing.
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(logging, "_told", set(), raising=False)
    monkeypatch.setattr(curves, "_told", False, raising=False)
    with pytest.raises(NonFiniteLossError):
        linear_fit(tmp_path, loss_fn=functools.partial(linear_loss, scale=jnp.nan))
    assert not (tmp_path / ".lock").exists()  # the failed run let the workdir go
    result = linear_fit(tmp_path)  # and the same run starts again in it
    assert result.metrics["epoch"] == 2 and not (tmp_path / ".lock").exists()
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    assert not (tmp_path / "curves.png").exists()
    assert not list(tmp_path.glob("tensorboard/events.*"))
    err = capsys.readouterr().err
    notices = [line for line in err.splitlines() if line.startswith("notice:")]
    assert len(notices) == 2, err  # once each, for two runs and every drawing
    assert "tensorboardX is not installed: no TensorBoard events; pip install tensorboardX" in err
    assert "matplotlib is not installed: no curves.png" in err


def test_run_closes_everything_when_closing_fails(tmp_path, monkeypatch):
    closed = []
    for cls in (Checkpointer, MetricsWriter):
        original = cls.close
        monkeypatch.setattr(
            cls, "close", lambda self, o=original, c=cls: (closed.append(c.__name__), o(self))
        )

    def full_disk(history, path, *, x):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(run_module, "plot_curves", full_disk)
    run = Run(tmp_path, tensorboard=False)
    run.checkpointer_for("")
    run.log({"epoch": 1, "train_loss": 0.5}, step=1, history=True)
    with pytest.raises(WorkdirError, match="No space left on device"):
        run.close()
    assert sorted(closed) == ["Checkpointer", "MetricsWriter"]
    assert not (tmp_path / ".lock").exists()


def test_the_error_that_stopped_training_is_the_one_raised():
    class BrokenRun(Run):
        def wait(self):
            raise OSError("the checkpoint could not be flushed")

    def nan_chunk(state, data, inputs, length):
        return state, {"loss": np.full(length, np.nan)}, {"loss": np.nan}, np.int32(0)

    with pytest.raises(NonFiniteLossError):
        train(
            SimpleNamespace(step=np.int32(0)),
            Permuted(tiny_data(), 16, jax.random.key(0)),
            loss_fn=None,
            num_epochs=1,
            run=BrokenRun(None),
            chunk_fn=nan_chunk,
            progress=False,
        )
