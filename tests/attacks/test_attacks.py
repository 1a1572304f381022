"""Attacks on a linear classifier whose geometry is known."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.attacks import fgsm, pgd, targeted_sgd

W = jnp.array([[1.0, -1.0, 0.0], [0.0, 0.0, 2.0]])  # 2 features -> 3 classes


def logits_fn(x):
    return x @ W


def test_fgsm_takes_one_signed_step():
    x = jnp.array([[0.5, 0.5]])
    adv = fgsm(logits_fn, x, jnp.array([0]), eps=0.1)
    g = jax.grad(lambda x: -jax.nn.log_softmax(logits_fn(x))[0, 0])(x)
    np.testing.assert_allclose(adv, jnp.clip(x + 0.1 * jnp.sign(g), 0, 1))
    assert np.max(np.abs(adv - x)) == pytest.approx(0.1)


def test_pgd_stays_in_the_ball_and_moves_away_from_the_label():
    x = jax.random.uniform(jax.random.key(0), (16, 2))
    labels = jnp.argmax(logits_fn(x), -1)
    adv = pgd(logits_fn, x, labels, eps=0.05, step_size=0.01, num_steps=20, key=jax.random.key(1))
    assert float(jnp.max(jnp.abs(adv - x))) <= 0.05 + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    ce = lambda z: -jax.nn.log_softmax(logits_fn(z))[jnp.arange(16), labels]  # noqa: E731
    assert (ce(adv) >= ce(x) - 1e-6).all() and float(ce(adv).mean()) > float(ce(x).mean())


def test_targeted_sgd_stops_each_example_at_its_target():
    x = jnp.array([[0.5, 0.0], [0.3, 0.1], [0.9, 0.1]])  # all class 0 at the start
    targets = jnp.array([2, 2, 0])  # the last is already class 0: zero steps
    adv, steps, success = targeted_sgd(logits_fn, x, targets, learning_rate=0.1, max_steps=500)
    assert success.all()
    np.testing.assert_array_equal(jnp.argmax(logits_fn(adv), -1), targets)
    assert int(steps[2]) == 0 and (steps[:2] > 0).all()
    np.testing.assert_array_equal(adv[2], x[2])


def test_targeted_sgd_reports_failure_at_the_step_limit():
    _, steps, success = targeted_sgd(
        logits_fn, jnp.array([[1.0, 0.0]]), jnp.array([2]), learning_rate=1e-4, max_steps=3
    )
    assert not bool(success[0]) and int(steps[0]) == 3


def test_label_shape_error():
    with pytest.raises(ValueError, match=r"labels has shape \(2,\), expected \(1,\)"):
        fgsm(logits_fn, jnp.zeros((1, 2)), jnp.zeros(2, jnp.int32), eps=0.1)
