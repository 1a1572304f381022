from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.training import (
    Permuted,
    classifier_eval,
    classifier_loss,
    epoch_order,
    make_chunk,
    make_evaluator,
    make_train_step,
    take,
)
from tests.training.helpers import tiny_data, tiny_state, to_float

LOSS = to_float(classifier_loss)
EVAL = to_float(classifier_eval)


def test_epoch_order_is_a_permutation_cut_into_batches():
    order = epoch_order(jax.random.key(0), 10, 3)
    chex.assert_shape(order, (3, 3))
    assert len(set(np.asarray(order).ravel().tolist())) == 9
    chex.assert_trees_all_equal(order, epoch_order(jax.random.key(0), 10, 3))
    assert not np.array_equal(order, epoch_order(jax.random.key(1), 10, 3))
    with pytest.raises(ValueError, match="batch_size is 11"):
        epoch_order(jax.random.key(0), 10, 11)


def test_train_step_learns_and_updates_batch_stats():
    state = tiny_state()
    data = tiny_data()
    step = make_train_step(LOSS)
    stats0 = jax.tree.map(np.array, state.model_state)
    losses = []
    for i in range(30):
        idx = jnp.arange(32) + 32 * (i % 3)
        state, metrics = step(state, take(data, idx))
        losses.append(float(metrics["loss"]))
    assert int(state.step) == 30
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    moved = jax.tree.map(lambda a, b: not np.allclose(a, b), stats0, state.model_state)
    assert all(jax.tree.leaves(moved))


def test_chunk_matches_a_loop_of_steps():
    data = tiny_data()
    order = epoch_order(jax.random.key(5), 96, 16)
    state_loop = tiny_state()
    step = make_train_step(LOSS)
    for idx in order:
        state_loop, _ = step(state_loop, take(data, idx))
    chunk = make_chunk(LOSS, Permuted(data, 16, jax.random.key(5)))
    state_scan, metrics, sums, bad = chunk(tiny_state(), data, order, 6)
    assert int(bad) == -1
    chex.assert_trees_all_close(state_scan.params, state_loop.params, rtol=1e-5, atol=1e-6)
    assert sums["loss"].shape == ()
    chex.assert_shape(metrics["loss"], (6,))
    np.testing.assert_allclose(metrics["loss"].sum(), sums["loss"], rtol=1e-6)


def test_chunk_compiles_once():
    data = tiny_data()
    run = make_chunk(LOSS, Permuted(data, 16, jax.random.key(0)))
    counted = chex.assert_max_traces(run.__wrapped__, n=1)
    run = jax.jit(counted, static_argnums=3, donate_argnums=0)
    state = tiny_state()
    for epoch in range(3):
        order = epoch_order(jax.random.key(epoch), 96, 16)
        state, _, _, _ = run(state, data, order, 6)
    assert int(state.step) == 18


def test_evaluator_counts_every_example_once():
    state = tiny_state()
    data = tiny_data(n=50)
    full = jax.jit(lambda s: EVAL(s.model(), data, jnp.ones(50, bool)))(state)
    for batch_size in (7, 50, 64):
        metrics = make_evaluator(EVAL, batch_size)(state, data)
        np.testing.assert_allclose(metrics["loss"], full["loss"] / 50, rtol=1e-5)
        np.testing.assert_allclose(metrics["accuracy"], full["accuracy"] / 50, rtol=1e-6)


def test_nan_step_is_reported_and_skipped():
    def exploding(model, batch, *, train, key):
        loss, metrics = LOSS(model, batch, train=train, key=key)
        # Becomes NaN when the batch holds example 0: the guard must name that step.
        poison = jnp.where(jnp.any(batch["index"] == 0), jnp.nan, 0.0)
        return loss + poison, {**metrics, "loss": loss + poison}

    data = {**tiny_data(), "index": jnp.arange(96)}
    order = jnp.arange(96).reshape(6, 16)[jnp.array([1, 2, 0, 3, 4, 5])]
    state = tiny_state()
    before = jax.tree.map(np.array, state.params)
    chunk = make_chunk(exploding, Permuted(data, 16, jax.random.key(0)))
    out, _, _, bad = chunk(state, data, order, 6)
    assert int(bad) == 2  # the third step saw example 0
    # Updates stop at the bad step: the result equals two good steps from the start.
    ref, _, _, _ = chunk(tiny_state(), data, order[:2], 2)
    chex.assert_trees_all_equal(out.params, ref.params)
    assert int(out.step) == 2
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(out.params), strict=True)
    )
