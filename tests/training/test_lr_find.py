"""The learning-rate finder and the injected hyperparameters it sets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl.charlm import lm_loss
from jaxdl.training import (
    FullBatch,
    Sampled,
    TrainState,
    exponential_lrs,
    hyperparams,
    lr_find,
    make_chunk,
    suggest_lr,
    with_hyperparams,
)
from tests.charlm.test_charlm import BASE, splits_fn


def mse(model, batch, *, train, key):
    loss = jnp.mean((model(batch["x"]) - batch["y"]) ** 2)
    return loss, {"loss": loss}


def linear_state(tx):
    return TrainState.create(nnx.Linear(3, 1, rngs=nnx.Rngs(0)), tx, key=jax.random.key(1))


LINEAR_DATA = {
    "x": jax.random.normal(jax.random.key(2), (16, 3)),
    "y": jax.random.normal(jax.random.key(3), (16, 1)),
}


def test_lr_find_sweeps_the_learning_rate():
    lrs = exponential_lrs(200)
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1.0)
    state = with_hyperparams(BASE.init_state(), decay_factor=1.0)
    source = Sampled(splits_fn(3)["train"], 8, steps_per_epoch=200)
    losses = np.asarray(lr_find(state, source, lrs, loss_fn=lm_loss))
    assert losses.shape == (200,) and np.isfinite(losses).all()
    assert 1e-3 <= suggest_lr(lrs, losses) <= 1.0
    # A made-up curve with its minimum at lr 0.3 gives half of it.
    fake = (np.log10(lrs) - np.log10(0.3)) ** 2
    assert suggest_lr(lrs, fake) == pytest.approx(0.15, rel=0.05)


def test_at_a_fixed_rate_lr_find_is_plain_training():
    state = linear_state(optax.inject_hyperparams(optax.sgd)(learning_rate=0.05))
    source = FullBatch(LINEAR_DATA, steps_per_epoch=10)
    found = lr_find(state, source, np.full(10, 0.05), loss_fn=mse)
    assert int(state.step) == 0  # state is not modified
    trained = make_chunk(mse, source)(state, source.data, None, 10)[1]["loss"]
    np.testing.assert_allclose(found, trained, rtol=1e-6)


def test_lr_find_checks_its_arguments():
    source = FullBatch(LINEAR_DATA, steps_per_epoch=5)
    with pytest.raises(TypeError, match="optax.inject_hyperparams"):
        lr_find(linear_state(optax.sgd(0.1)), source, np.full(3, 0.1), loss_fn=mse)
    state = linear_state(optax.inject_hyperparams(optax.sgd)(learning_rate=0.1))
    with pytest.raises(ValueError, match="lrs has 6 steps, expected at most"):
        lr_find(state, source, np.full(6, 0.1), loss_fn=mse)
    with pytest.raises(ValueError, match=r"expected num_steps >= 2 and 0 < lo < hi"):
        exponential_lrs(10, lo=1.0, hi=0.1)


def test_with_hyperparams_keeps_dtypes_and_names_unknown_ones():
    state = BASE.init_state()
    new = with_hyperparams(state, learning_rate=0.5, decay_step=7)
    assert float(hyperparams(new)["learning_rate"]) == 0.5
    assert hyperparams(new)["decay_step"].dtype == hyperparams(state)["decay_step"].dtype
    assert float(hyperparams(state)["learning_rate"]) == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"values names \['momentum'\]"):
        with_hyperparams(state, momentum=0.9)


def test_suggest_lr_needs_a_finite_loss():
    with pytest.raises(ValueError, match="infinite or NaN"):
        suggest_lr(np.array([0.1, 1.0]), np.array([np.nan, np.inf]))
