from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.losses import l2_distance, mean_squared_error, softmax_cross_entropy
from jaxdl.metrics import accuracy


def test_cross_entropy_matches_log_softmax():
    logits = jax.random.normal(jax.random.key(0), (5, 7))
    labels = jnp.array([0, 3, 6, 2, 2])
    expected = -jax.nn.log_softmax(logits)[jnp.arange(5), labels]
    loss = softmax_cross_entropy(logits, labels)
    chex.assert_shape(loss, (5,))
    chex.assert_trees_all_close(loss, expected, rtol=1e-6)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = softmax_cross_entropy(jnp.array([[1e4, -1e4]]), jnp.array([1]))
    np.testing.assert_allclose(loss, [2e4], rtol=1e-6)


def test_label_smoothing_mixes_in_uniform_target():
    logits = jax.random.normal(jax.random.key(1), (4, 3))
    labels = jnp.array([0, 1, 2, 1])
    eps = 0.3
    logp = jax.nn.log_softmax(logits)
    expected = (1 - eps) * -logp[jnp.arange(4), labels] + eps * -logp.mean(-1)
    chex.assert_trees_all_close(
        softmax_cross_entropy(logits, labels, label_smoothing=eps), expected, rtol=1e-5
    )


def test_cross_entropy_where_and_leading_dims():
    logits = jnp.zeros((2, 3, 4))
    labels = jnp.zeros((2, 3), jnp.int32)
    where = jnp.array([[True, False, True], [False, False, True]])
    loss = softmax_cross_entropy(logits, labels, where=where)
    chex.assert_shape(loss, (2, 3))
    np.testing.assert_allclose(loss, np.where(where, np.log(4), 0.0), rtol=1e-6)


@pytest.mark.parametrize(
    ("logits_shape", "labels_shape", "match"),
    [((4, 3), (5,), "labels has shape"), ((), (), "logits has shape")],
)
def test_cross_entropy_shape_errors(logits_shape, labels_shape, match):
    with pytest.raises(ValueError, match=match):
        softmax_cross_entropy(jnp.zeros(logits_shape), jnp.zeros(labels_shape, jnp.int32))


def test_cross_entropy_rejects_bad_smoothing():
    with pytest.raises(ValueError, match="label_smoothing"):
        softmax_cross_entropy(jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32), label_smoothing=1.0)


def test_mse_is_per_example_and_matches_torch_mean():
    pred = jnp.array([[1.0, 2.0], [0.0, 4.0]])
    target = jnp.array([[0.0, 0.0], [0.0, 0.0]])
    loss = mean_squared_error(pred, target)
    np.testing.assert_allclose(loss, [2.5, 8.0])
    # Averaging over the batch is torch.nn.MSELoss()'s reduction.
    np.testing.assert_allclose(loss.mean(), jnp.mean((pred - target) ** 2))
    np.testing.assert_allclose(mean_squared_error(pred, target, where=jnp.array([0, 1])), [0, 8])


def test_mse_shape_errors():
    with pytest.raises(ValueError, match="predictions has shape"):
        mean_squared_error(jnp.zeros((2, 3)), jnp.zeros((2, 4)))


def test_accuracy_and_mask():
    logits = jnp.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = jnp.array([1, 1, 1])
    np.testing.assert_array_equal(accuracy(logits, labels), [1, 0, 1])
    np.testing.assert_array_equal(accuracy(logits, labels, where=jnp.array([1, 1, 0])), [1, 0, 0])
    with pytest.raises(ValueError, match="labels has shape"):
        accuracy(logits, labels[:2])


def test_losses_jit_and_vmap():
    logits = jax.random.normal(jax.random.key(2), (3, 5, 4))
    labels = jnp.zeros((3, 5), jnp.int32)
    batched = jax.vmap(jax.jit(softmax_cross_entropy))(logits, labels)
    chex.assert_trees_all_close(batched, softmax_cross_entropy(logits, labels))


def test_frechet_distance_matches_scipy():
    import scipy.linalg

    from jaxdl.metrics import feature_statistics, frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6))
    b = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) * 0.5 + 1.0
    (ma, ca), (mb, cb) = feature_statistics(a), feature_statistics(b)
    np.testing.assert_allclose(ca, np.cov(a, rowvar=False), rtol=1e-4, atol=1e-5)
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2)
        + np.trace(np.cov(a, rowvar=False) + np.cov(b, rowvar=False))
        - 2 * np.trace(scipy.linalg.sqrtm(np.cov(a, rowvar=False) @ np.cov(b, rowvar=False))).real
    )
    assert float(frechet_distance(ma, ca, mb, cb)) == pytest.approx(expected, rel=1e-4)
    assert float(frechet_distance(ma, ca, ma, ca)) == pytest.approx(0.0, abs=1e-3)


def test_l2_distance_matches_norm_and_has_a_safe_gradient():
    pred = jnp.array([[3.0, 4.0], [1.0, 1.0], [0.5, -2.0]])
    target = jnp.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(l2_distance(pred, target), jnp.linalg.norm(pred - target, axis=-1))
    # jnp.linalg.norm's gradient is NaN at zero error; l2_distance's is 0 there and the
    # ordinary (pred - target) / norm elsewhere.
    assert bool(
        jnp.isnan(jax.grad(lambda p: jnp.linalg.norm(p - target, axis=-1).sum())(pred)).any()
    )
    g = jax.grad(lambda p: l2_distance(p, target).sum())(pred)
    np.testing.assert_allclose(
        g, [[0.6, 0.8], [0.0, 0.0], [0.5 / 2.0615528, -2.0 / 2.0615528]], rtol=1e-5
    )
    assert float(l2_distance(pred, target, where=jnp.array([True, True, False]))[2]) == 0.0
    with pytest.raises(ValueError, match="expected targets's shape"):
        l2_distance(pred, target[:2])
