"""Character-level language models through the engine: runs, sweeps, resume, sampling."""

from __future__ import annotations

import dataclasses
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.charlm import (
    CharLMRun,
    as_device_data,
    decode_samples,
    group_by_shape,
    init_states,
    lm_loss,
    make_optimizer,
    make_split_evaluator,
    sample,
    scan_unroll,
    step_decay_sgd,
)
from jaxdl.data.names import make_windows, split_words
from jaxdl.errors import NonFiniteLossError
from jaxdl.training import Run, Sampled, ema_params, expand_grid, make_chunk, train

WORDS = [
    "emma",
    "olivia",
    "ava",
    "isabella",
    "sophia",
    "charlotte",
    "mia",
    "amelia",
    "harper",
    "evelyn",
    "abigail",
    "emily",
    "ella",
    "elizabeth",
    "camila",
    "luna",
    "sofia",
    "avery",
    "mila",
    "aria",
    "scarlett",
    "penelope",
    "layla",
    "chloe",
    "victoria",
    "madison",
    "eleanor",
    "grace",
    "nora",
    "riley",
    "liam",
    "noah",
    "william",
    "james",
    "logan",
    "benjamin",
]

BASE = CharLMRun(
    model="mlp",
    block_size=3,
    n_embd=4,
    n_hidden=16,
    init="scaled",
    batch_size=8,
    num_steps=60,
    seed=0,
    learning_rate=0.1,
    lr_decay_at=0.5,
    lr_decay_factor=0.1,
)


@functools.lru_cache
def splits_fn(block_size):
    parts = split_words(WORDS, fractions=(0.7, 0.85))
    names = ("train", "dev", "test")
    return {
        k: as_device_data(make_windows(w, block_size)) for k, w in zip(names, parts, strict=True)
    }


def fit(spec, *, chunk_steps, state=None, vmapped=False, **kwargs):
    """``spec.num_steps`` steps through the engine, as the makemore recipe trains."""
    chunk = min(chunk_steps, spec.num_steps)
    return train(
        spec.init_state() if state is None else state,
        Sampled(splits_fn(spec.block_size)["train"], spec.batch_size, steps_per_epoch=chunk),
        loss_fn=lm_loss,
        num_epochs=-(-spec.num_steps // chunk),
        num_steps=spec.num_steps,
        unroll=scan_unroll(chunk),
        keep_step_metrics=True,
        progress=False,
        vmapped=vmapped,
        **kwargs,
    )


def split_losses(state, block_size, vmapped=False):
    evaluate = make_split_evaluator(vmapped=vmapped)
    return {f"{k}_loss": np.asarray(evaluate(state, v)) for k, v in splits_fn(block_size).items()}


def _raw(x):
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def leaves_equal(a, b):
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(x.dtype == y.dtype and np.array_equal(_raw(x), _raw(y)) for x, y in pairs)


def test_training_lowers_the_loss():
    result = fit(dataclasses.replace(BASE, num_steps=300), chunk_steps=100)
    losses = result.step_metrics["loss"]
    assert losses.shape == (300,)
    assert losses[-50:].mean() < losses[:50].mean() - 0.5
    metrics = split_losses(result.state, 3)
    assert set(metrics) == {"train_loss", "dev_loss", "test_loss"}
    assert all(np.isfinite(v) for v in metrics.values())


def test_chunking_does_not_change_the_run():
    a = fit(BASE, chunk_steps=60)
    b = fit(BASE, chunk_steps=25)  # a partial last epoch of 10 steps
    assert leaves_equal(a.state.params, b.state.params)
    np.testing.assert_array_equal(a.step_metrics["loss"], b.step_metrics["loss"])


def test_unrolling_takes_the_same_steps():
    source = Sampled(splits_fn(3)["train"], 8, steps_per_epoch=40)
    plain = make_chunk(lm_loss, source, unroll=1)(BASE.init_state(), source.data, None, 40)
    unrolled = make_chunk(lm_loss, source, unroll=8)(BASE.init_state(), source.data, None, 40)
    np.testing.assert_allclose(plain[1]["loss"], unrolled[1]["loss"], rtol=1e-5)
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6),
        plain[0].params,
        unrolled[0].params,
    )


def test_sweep_rows_equal_single_runs():
    specs = expand_grid(BASE, {"seed": [0, 1], "learning_rate": [0.05, 0.2]})
    sweep = fit(specs[0], chunk_steps=30, state=init_states(specs), vmapped=True)
    swept = split_losses(sweep.state, 3, vmapped=True)
    for i in (0, 3):
        single = fit(specs[i], chunk_steps=60)
        assert leaves_equal(
            single.state.params, jax.tree.map(lambda a, i=i: a[i], sweep.state.params)
        )
        for k, v in split_losses(single.state, 3).items():
            assert swept[k][i] == pytest.approx(float(v), rel=1e-6)
        np.testing.assert_allclose(
            sweep.step_metrics["loss"][i], single.step_metrics["loss"], rtol=1e-5
        )
    # The runs are really different runs.
    assert not leaves_equal(sweep.state.params["C"][0], sweep.state.params["C"][1])


def test_init_states_stacks_the_single_states():
    specs = expand_grid(BASE, {"seed": [0, 1], "learning_rate": [0.05, 0.2]})
    stacked = init_states(specs)
    for i, spec in enumerate(specs):
        assert leaves_equal(spec.init_state(), jax.tree.map(lambda a, i=i: a[i], stacked))
    with pytest.raises(ValueError, match="expected one: they may differ only in seed"):
        init_states(expand_grid(BASE, {"n_hidden": [8, 16]}))


def test_sweep_groups_runs_by_shape():
    specs = expand_grid(BASE, {"n_hidden": [8, 16], "seed": [0, 1], "learning_rate": [0.1]})
    assert group_by_shape(specs) == [[0, 1], [2, 3]]
    for group in group_by_shape(specs):
        runs = [specs[i] for i in group]
        result = fit(
            runs[0], chunk_steps=60, state=init_states(runs), vmapped=True, on_non_finite="record"
        )
        assert result.state.params["W1"].shape[-1] == runs[0].n_hidden
        assert result.bad_step.tolist() == [-1, -1]


def test_a_diverging_sweep_row_records_its_step():
    specs = expand_grid(dataclasses.replace(BASE, init="seed"), {"learning_rate": [0.1, 1e38]})
    result = fit(
        specs[0], chunk_steps=20, state=init_states(specs), vmapped=True, on_non_finite="record"
    )
    assert result.bad_step[0] == -1 and result.bad_step[1] >= 0
    assert np.isfinite(split_losses(result.state, 3, vmapped=True)["test_loss"][0])


def test_resume_is_bit_identical(tmp_path):
    spec = dataclasses.replace(BASE, model="wavenet", block_size=4)  # BatchNorm state too
    full = fit(spec, chunk_steps=20)

    class Stop(Exception):
        pass

    def stop_at_epoch_3(epoch, _):
        if epoch == 3:
            raise Stop

    with Run(tmp_path) as run, pytest.raises(Stop):
        fit(spec, chunk_steps=20, run=run, hooks=(stop_at_epoch_3,))
    with Run(tmp_path, resume=True) as run:
        resumed = fit(spec, chunk_steps=20, run=run)
    assert leaves_equal(full.state.params, resumed.state.params)
    assert leaves_equal(full.state.model_state, resumed.state.model_state)
    assert leaves_equal(full.state.opt_state, resumed.state.opt_state)
    np.testing.assert_array_equal(full.step_metrics["loss"], resumed.step_metrics["loss"])
    assert split_losses(full.state, 4) == split_losses(resumed.state, 4)


def test_divergence_is_reported():
    spec = dataclasses.replace(BASE, init="seed", learning_rate=1e38)
    with pytest.raises(NonFiniteLossError, match="Lower the learning rate"):
        fit(spec, chunk_steps=60)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (
            {"model": "rnn"},
            ValueError,
            "model is 'rnn', expected 'mlp', 'wavenet' or 'transformer'.",
        ),
        ({"optim": "lbfgs"}, ValueError, "optim is 'lbfgs', expected one of ('sgd', 'adamw')."),
        ({"dropout": 1.0}, ValueError, "dropout is 1.0, expected a value in [0, 1)."),
        ({"ema_decay": 1.0}, ValueError, "ema_decay is 1.0, expected a value in [0, 1)."),
        ({"weight_decay": -0.1}, ValueError, "weight_decay is -0.1, expected >= 0."),
        ({"block_size": 0}, ValueError, "block_size is 0, expected >= 1."),
        ({"init": "he"}, ValueError, "init is 'he', expected one of"),
        ({"model": "wavenet", "block_size": 6}, ValueError, "block_size is 6, expected a power"),
        ({"learning_rate": -0.1}, ValueError, "learning_rate is -0.1, expected > 0."),
        ({"lr_decay_at": -1}, ValueError, "lr_decay_at is -1.0, expected >= 0."),
        ({"n_hidden": 2.5}, TypeError, "n_hidden is 2.5, expected an int."),
        ({"learning_rate": "0.1"}, TypeError, "learning_rate is '0.1', expected a float."),
    ],
)
def test_a_bad_run_names_its_field(fields, error, message):
    with pytest.raises(error, match=re.escape(message)):
        dataclasses.replace(BASE, **fields)


def test_run_spec_fields():
    spec = dataclasses.replace(BASE, learning_rate=1, num_steps=1000, lr_decay_at=0.75)
    assert isinstance(spec.learning_rate, float) and spec.decay_step == 750
    assert set(CharLMRun.SHAPE_FIELDS) | set(CharLMRun.VMAP_FIELDS) == {
        f.name for f in dataclasses.fields(CharLMRun)
    }
    assert spec.shape_key == dataclasses.replace(spec, seed=5, learning_rate=0.2).shape_key
    assert spec.shape_key != dataclasses.replace(spec, n_hidden=5).shape_key
    assert (scan_unroll(999), scan_unroll(1000)) == (1, 8)


def test_step_decay_schedule():
    tx = step_decay_sgd(0.5, decay_step=2, decay_factor=0.1)
    params = jnp.zeros(())
    opt = tx.init(params)
    steps = []
    for _ in range(4):
        upd, opt = tx.update(jnp.ones(()), opt, params)
        steps.append(float(upd))
    np.testing.assert_allclose(steps, [-0.5, -0.5, -0.05, -0.05], rtol=1e-6)


def test_weight_decay_and_the_weight_average_are_constants_of_the_optimiser():
    params = {"w": jnp.ones(())}
    grads = {"w": jnp.zeros(())}  # Adam's update is 0: only the weight decay moves w

    def one_update(**kwargs):
        tx = make_optimizer(0.1, decay_step=10, kind="adamw", **kwargs)
        state = tx.init(params)
        updates, state = tx.update(grads, state, params)
        return state, optax.apply_updates(params, updates)

    state, new = one_update(weight_decay=0.5)
    assert sorted(state.hyperparams) == ["decay_factor", "decay_step", "learning_rate"]
    np.testing.assert_allclose(float(new["w"]), 1 - 0.1 * 0.5, rtol=1e-6)
    np.testing.assert_allclose(float(one_update()[1]["w"]), 1 - 0.1 * 0.01, rtol=1e-6)
    # The average after one update with the warm-up decay min(0.9, 2 / 11).
    state, new = one_update(weight_decay=0.5, ema_decay=0.9)
    d = 2 / 11
    np.testing.assert_allclose(float(ema_params(state)["w"]), d + (1 - d) * 0.95, rtol=1e-6)
    with pytest.raises(ValueError, match=re.escape("weight_decay is 0.1, expected None")):
        make_optimizer(0.1, decay_step=1, weight_decay=0.1)


def test_samples_end_with_a_dot_and_are_deterministic():
    model = BASE.init_state().model()
    key = jax.random.key(3)
    ids = sample(model, key=key, num_samples=16, max_length=6)
    words = decode_samples(ids)
    assert all(w.endswith(".") and "." not in w[:-1] for w in words)
    np.testing.assert_array_equal(ids, sample(model, key=key, num_samples=16, max_length=6))
    # Sample i depends on fold_in(key, i) only.
    np.testing.assert_array_equal(ids[:4], sample(model, key=key, num_samples=4, max_length=6))
    assert len(set(words)) > 1


def test_sample_temperature_zero_limit_is_greedy():
    model = BASE.init_state().model()
    ids = sample(model, key=jax.random.key(0), num_samples=8, max_length=5, temperature=1e-4)
    assert (ids == ids[0]).all()  # every sample takes the argmax path
    with pytest.raises(ValueError, match="temperature is 0"):
        sample(model, key=jax.random.key(0), num_samples=1, temperature=0)


def test_cross_entropy_is_optax():
    model = BASE.init_state().model()
    batch = {"x": jnp.zeros((4, 3), jnp.int32), "y": jnp.array([1, 2, 3, 0])}
    loss, _ = lm_loss(model, batch, train=False, key=None)
    ref = optax.softmax_cross_entropy_with_integer_labels(model(batch["x"]), batch["y"]).mean()
    assert float(loss) == pytest.approx(float(ref), rel=1e-6)
