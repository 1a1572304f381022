"""Training-set sizes as one vmapped program (jaxdl.training.subsets)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl.nn import CNNClassifier, MLPClassifier
from jaxdl.training import TrainState, classifier_eval, classifier_loss, make_evaluator, train
from jaxdl.training.subsets import (
    SampledSubset,
    SubsetState,
    check_subset_sizes,
    make_subset_evaluator,
    with_subset_sizes,
)
from tests.training.helpers import tiny_data, to_float

SIZES = [8, 24, 96]


def mlp_state(dropout: float = 0.2) -> TrainState:
    model = MLPClassifier(hidden=(16,), dropout=dropout, rngs=nnx.Rngs(params=jax.random.key(0)))
    return TrainState.create(model, optax.sgd(0.05), key=jax.random.key(1))


def cnn_state() -> TrainState:
    """Convolutions (grouped ones under vmap) and dropout (the key per run).

    Without BatchNorm: on these tiny images its batch variance is ill-conditioned, and at
    the suite's XLA optimisation level 0 the vmapped and the single program round it
    differently (params 0.003 apart after 2 SGD steps; a single run's second loss also moves,
    1.8671 -> 1.8688, between XLA's default level and 0). At the default level the
    vmapped and the single runs agree to 1.2e-7.
    """
    model = CNNClassifier(
        channels=(4,), hidden=(16,), dropout=0.2, norm="none",
        rngs=nnx.Rngs(params=jax.random.key(0)),
    )  # fmt: skip
    return TrainState.create(model, optax.sgd(0.05), key=jax.random.key(1))


def row(stack, r):
    return jax.tree.map(lambda x: x[r], stack)


def run(state, *, vmapped, steps=12):
    source = SampledSubset(tiny_data(), 8, steps_per_epoch=steps // 2)
    return train(
        state, source, loss_fn=to_float(classifier_loss), num_epochs=2, vmapped=vmapped,
        progress=False, epoch_lines=False, keep_step_metrics=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    "make", [mlp_state, pytest.param(cnn_state, marks=pytest.mark.slow)], ids=["mlp", "cnn"]
)
def test_each_vmapped_run_equals_the_same_run_alone(make):
    # SGD: vmap batches the matmuls and convolutions, which changes float rounding; Adam
    # divides each gradient by its own scale and so turns rounding-level differences of
    # near-zero gradients into whole steps (0.01 apart after 12 steps), SGD does not.
    stack = with_subset_sizes(make(), SIZES)
    singles = [row(stack, r) for r in range(len(SIZES))]  # before train donates the stack
    together = run(stack, vmapped=True)
    for r, single in enumerate(singles):
        alone = run(single, vmapped=False)
        chex.assert_trees_all_close(
            row(together.state, r).params, alone.state.params, atol=2e-5, rtol=1e-5
        )
        np.testing.assert_allclose(
            together.step_metrics["loss"][r], alone.step_metrics["loss"], rtol=1e-5, atol=1e-6
        )
    # The sizes differ only in their data, and that makes the runs differ.
    p = together.state.params["head"]["kernel"][...]
    assert not np.allclose(p[0], p[-1])


def test_batches_come_from_the_run_s_prefix_only():
    data = {"image": jnp.zeros((50, 2)), "index": jnp.arange(50)}
    source = SampledSubset(data, 64, steps_per_epoch=5)
    stack = with_subset_sizes(mlp_state(), [3, 50])

    def drawn(state):
        xs = source.scan_inputs(state, data, None, 5)
        return jax.vmap(lambda x: source.batch(state, data, x)["index"])(xs)

    small, large = jax.vmap(drawn)(stack)  # (5 steps, 64) each
    assert set(np.asarray(small).ravel().tolist()) == {0, 1, 2}
    assert np.asarray(large).max() > 40  # the large run reaches past the small prefix


def test_with_subset_sizes_stacks_one_start_for_every_size():
    one = mlp_state()
    stack = with_subset_sizes(one, SIZES)
    assert isinstance(stack, SubsetState)
    assert stack.subset_size.tolist() == SIZES
    assert stack.step.shape == (3,)
    for r in range(3):
        chex.assert_trees_all_equal(row(stack, r).params, one.params)
    with pytest.raises(ValueError, match=r"sizes is \[\], expected"):
        with_subset_sizes(one, [])
    with pytest.raises(ValueError, match=r"sizes is \[0, 4\]"):
        with_subset_sizes(one, [0, 4])


def test_subset_evaluator_scores_each_run_on_its_own_prefix():
    data = tiny_data(40)
    stack = with_subset_sizes(mlp_state(), [7, 40, 100])
    evaluate = make_subset_evaluator(to_float(classifier_eval), 16)
    together = jax.vmap(evaluate, in_axes=(0, None))(stack, data)
    full = make_evaluator(to_float(classifier_eval), 16)
    for r, n in enumerate([7, 40, 40]):  # 100 is capped at the 40 rows there are
        prefix = {k: v[:n] for k, v in data.items()}
        expected = full(row(stack, r), prefix)
        np.testing.assert_allclose(together["accuracy"][r], expected["accuracy"], rtol=1e-6)
        np.testing.assert_allclose(together["loss"][r], expected["loss"], rtol=1e-5)
    with pytest.raises(ValueError, match="batch_size is 0"):
        make_subset_evaluator(classifier_eval, 0)


def test_check_subset_sizes():
    check_subset_sizes([1, 5, 10], 10)
    for bad in ([], [5, 5], [10, 5], [0, 5], [5, 11]):
        with pytest.raises(
            ValueError, match=r"cfg is .*expected strictly growing sizes in \[1, 10\]"
        ):
            check_subset_sizes(bad, 10, name="cfg")
