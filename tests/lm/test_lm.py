"""Whole-run training, sweeps, resume, sampling and the learning-rate finder."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.data.names import make_windows, split_words
from jaxdl.errors import NonFiniteLossError
from jaxdl.lm import (
    decode_samples,
    expand_grid,
    exponential_lrs,
    group_by_shape,
    init_state,
    lr_find,
    sample,
    step_decay_sgd,
    suggest_lr,
    train_run,
    train_sweep,
)
from jaxdl.lm.train import as_device_data, make_trainer

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

BASE = dict(
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


def leaves_equal(a, b):
    return all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_training_lowers_the_loss():
    result = train_run({**BASE, "num_steps": 300}, splits_fn(3), chunk_steps=100, progress=False)
    assert result.losses.shape == (300,)
    assert result.losses[-50:].mean() < result.losses[:50].mean() - 0.5
    assert set(result.metrics) == {"train_loss", "dev_loss", "test_loss"}


def test_chunking_does_not_change_the_run():
    a = train_run(BASE, splits_fn(3), chunk_steps=60, progress=False)
    b = train_run(BASE, splits_fn(3), chunk_steps=25, progress=False)
    assert leaves_equal(a.state.params, b.state.params)
    np.testing.assert_array_equal(a.losses, b.losses)


def test_unrolling_takes_the_same_steps():
    data = splits_fn(3)["train"]
    plain = make_trainer(num_steps=40, batch_size=8, unroll=1)(init_state(BASE), data)
    unrolled = make_trainer(num_steps=40, batch_size=8, unroll=8)(init_state(BASE), data)
    np.testing.assert_allclose(plain[1], unrolled[1], rtol=1e-5)
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6),
        plain[0].params,
        unrolled[0].params,
    )


def test_sweep_rows_equal_single_runs():
    specs = expand_grid(BASE, {"seed": [0, 1], "learning_rate": [0.05, 0.2]})
    sweep = train_sweep(specs, splits_fn, chunk_steps=30, progress=False, keep_states=True)
    for i in (0, 3):
        single = train_run(specs[i], splits_fn(3), chunk_steps=60, progress=False)
        assert leaves_equal(single.state.params, sweep[i].state.params)
        for k, v in single.metrics.items():
            assert sweep[i].metrics[k] == pytest.approx(v, rel=1e-6)
        np.testing.assert_allclose(sweep[i].losses, single.losses, rtol=1e-5)
    # The runs are really different runs.
    assert not leaves_equal(sweep[0].state.params, sweep[1].state.params)


def test_sweep_groups_runs_by_shape():
    specs = expand_grid(BASE, {"n_hidden": [8, 16], "seed": [0, 1], "learning_rate": [0.1]})
    assert group_by_shape(specs) == [[0, 1], [2, 3]]
    results = train_sweep(specs, splits_fn, progress=False)
    assert [r.spec["n_hidden"] for r in results] == [8, 8, 16, 16]
    assert all(r.metrics["diverged_at_step"] == -1 for r in results)


def test_resume_is_bit_identical(tmp_path):
    spec = {**BASE, "model": "wavenet", "block_size": 4}  # BatchNorm state too
    full = train_run(spec, splits_fn(4), chunk_steps=20, progress=False)

    class Stop(Exception):
        pass

    def stop_at_40(step, _):
        if step == 40:
            raise Stop

    with pytest.raises(Stop):
        train_run(
            spec,
            splits_fn(4),
            chunk_steps=20,
            workdir=str(tmp_path),
            progress=False,
            on_chunk=stop_at_40,
        )
    resumed = train_run(
        spec, splits_fn(4), chunk_steps=20, workdir=str(tmp_path), resume=True, progress=False
    )
    assert leaves_equal(full.state.params, resumed.state.params)
    assert leaves_equal(full.state.model_state, resumed.state.model_state)
    assert leaves_equal(full.state.opt_state, resumed.state.opt_state)
    np.testing.assert_array_equal(full.losses, resumed.losses)
    assert full.metrics == resumed.metrics


def test_divergence_is_reported():
    with pytest.raises(NonFiniteLossError, match="lower the learning rate"):
        train_run({**BASE, "init": "seed", "learning_rate": 1e30}, splits_fn(3), progress=False)


def test_step_decay_schedule():
    tx = step_decay_sgd(0.5, decay_step=2, decay_factor=0.1)
    params = jnp.zeros(())
    opt = tx.init(params)
    steps = []
    for _ in range(4):
        upd, opt = tx.update(jnp.ones(()), opt, params)
        steps.append(float(upd))
    np.testing.assert_allclose(steps, [-0.5, -0.5, -0.05, -0.05], rtol=1e-6)


def test_samples_end_with_a_dot_and_are_deterministic():
    model = init_state(BASE).model()
    key = jax.random.key(3)
    ids = sample(model, key=key, num_samples=16, max_length=6)
    words = decode_samples(ids)
    assert all(w.endswith(".") and "." not in w[:-1] for w in words)
    np.testing.assert_array_equal(ids, sample(model, key=key, num_samples=16, max_length=6))
    # Sample i depends on fold_in(key, i) only.
    np.testing.assert_array_equal(ids[:4], sample(model, key=key, num_samples=4, max_length=6))
    assert len(set(words)) > 1


def test_sample_temperature_zero_limit_is_greedy():
    model = init_state(BASE).model()
    ids = sample(model, key=jax.random.key(0), num_samples=8, max_length=5, temperature=1e-4)
    assert (ids == ids[0]).all()  # every sample takes the argmax path
    with pytest.raises(ValueError, match="temperature is 0"):
        sample(model, key=jax.random.key(0), num_samples=1, temperature=0)


def test_lr_find_sweeps_the_learning_rate():
    lrs = exponential_lrs(200)
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1.0)
    losses = np.asarray(lr_find(init_state(BASE), splits_fn(3)["train"], lrs, batch_size=8))
    assert losses.shape == (200,) and np.isfinite(losses).all()
    assert 1e-3 <= suggest_lr(lrs, losses) <= 1.0
    # A made-up curve with its minimum at lr 0.3 gives half of it.
    fake = (np.log10(lrs) - np.log10(0.3)) ** 2
    assert suggest_lr(lrs, fake) == pytest.approx(0.15, rel=0.05)


def test_cross_entropy_is_optax():
    from jaxdl.lm import lm_loss

    model = init_state(BASE).model()
    batch = {"x": jnp.zeros((4, 3), jnp.int32), "y": jnp.array([1, 2, 3, 0])}
    loss, _ = lm_loss(model, batch, train=False, key=None)
    ref = optax.softmax_cross_entropy_with_integer_labels(model(batch["x"]), batch["y"]).mean()
    assert float(loss) == pytest.approx(float(ref), rel=1e-6)
