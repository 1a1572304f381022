"""The recipes' optimisers: the same updates as the optax chains they replace."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.training import warmup_cosine_optimizer


def updates(tx, steps=5):
    params, grads = {"w": jnp.ones(3)}, {"w": jnp.array([0.5, -1.0, 2.0])}
    state, out = tx.init(params), []
    for _ in range(steps):
        u, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, u)
        out.append(params["w"])
    return np.stack(out)


@pytest.mark.parametrize("warmup", [0, 2, 50])
def test_adamw_with_warmup_and_cosine(warmup):
    total = 10
    w = min(warmup, total - 1)
    schedule = optax.warmup_cosine_decay_schedule(0.0 if w else 1e-2, 1e-2, w, total)
    expected = optax.adamw(schedule, weight_decay=1e-4)
    tx = warmup_cosine_optimizer(
        "adamw", learning_rate=1e-2, num_steps=total, warmup_steps=warmup, weight_decay=1e-4
    )
    np.testing.assert_array_equal(updates(tx), updates(expected))


def test_adam_and_sgd():
    s = optax.warmup_cosine_decay_schedule(1e-2, 1e-2, 0, 10)
    for name, expected in (("adam", optax.adam(s)), ("sgd", optax.sgd(s, 0.9, nesterov=True))):
        tx = warmup_cosine_optimizer(name, learning_rate=1e-2, num_steps=10)
        np.testing.assert_array_equal(updates(tx), updates(expected))


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="name is 'lion', expected one of adamw, adam, sgd"):
        warmup_cosine_optimizer("lion", learning_rate=1.0, num_steps=1)
    with pytest.raises(ValueError, match="num_steps is 0"):
        warmup_cosine_optimizer(learning_rate=1.0, num_steps=0)
    with pytest.raises(ValueError, match="warmup_steps is -1"):
        warmup_cosine_optimizer(learning_rate=1.0, num_steps=3, warmup_steps=-1)
