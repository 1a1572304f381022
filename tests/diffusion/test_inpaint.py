"""RePaint in-painting: the move table, the forward jump, the sampler's guarantees."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.diffusion import (
    ddim_sample,
    forward_jump,
    inpaint_sample,
    make_schedule,
    q_sample,
    repaint_schedule,
)

SCHEDULE = make_schedule("linear", 1000)
SHAPE = (3, 4, 4, 1)


def hole(shape=SHAPE):
    return jnp.zeros(shape).at[:, 1:3, 1:3].set(1.0)


def toy_eps(x, t):
    # Any smooth function of (x, t) will do for the structural tests.
    return 0.3 * x + jnp.sin(t.astype(jnp.float32) / 100.0)[:, None, None, None]


def two_point_eps(x, t):
    """The exact noise prediction when the data are the all +1 and all -1 images, equally
    likely: E[x0 | x_t] = tanh(sqrt(ab) sum(x_t) / (1 - ab)) for every pixel."""
    ab = SCHEDULE.alpha_bar[t][:, None, None, None]
    s = jnp.sum(x, axis=(1, 2, 3), keepdims=True)
    x0 = jnp.tanh(jnp.sqrt(ab) * s / (1.0 - ab))
    return (x - jnp.sqrt(ab) * x0) / jnp.sqrt(1.0 - ab)


@pytest.mark.parametrize(
    ("n", "r", "j"), [(1, 1, 1), (10, 1, 3), (10, 3, 1), (20, 4, 5), (7, 2, 3)]
)
def test_repaint_schedule_structure(n, r, j):
    moves = repaint_schedule(n, resample=r, jump=j)
    k = len(range(0, n - j, j))  # levels where the walk climbs back
    assert moves.shape == (n + 2 * (r - 1) * j * k, 2)
    assert moves[0, 0] == n - 1 and moves[-1, 1] == -1
    np.testing.assert_array_equal(moves[1:, 0], moves[:-1, 1])  # a connected walk
    assert set(np.diff(moves, axis=1).ravel().tolist()) <= {-1, 1}
    assert moves.min() == -1 and moves.max() == n - 1
    down = moves[moves[:, 1] < moves[:, 0]]
    assert len(down) == n + (r - 1) * j * k
    # Every climb of j levels returns to a resampling level, in j single steps.
    up_runs = np.split(
        moves[:, 1] > moves[:, 0], np.flatnonzero(np.diff(moves[:, 1] > moves[:, 0])) + 1
    )
    assert all(len(u) == j for u in up_runs if u[0])
    if r == 1:  # plain ancestral sampling: straight down
        np.testing.assert_array_equal(moves[:, 1], np.arange(n - 2, -2, -1))


def test_repaint_schedule_with_jump_one_denoises_each_level_r_times():
    moves = repaint_schedule(6, resample=3, jump=1)
    down_to = moves[moves[:, 1] < moves[:, 0], 1]
    counts = {level: int((down_to == level).sum()) for level in range(-1, 5)}
    assert counts == {-1: 1, 0: 3, 1: 3, 2: 3, 3: 3, 4: 3}


def test_forward_jump_from_the_clean_end_is_q_sample():
    x0 = jax.random.normal(jax.random.key(0), (2, 5))
    z = jax.random.normal(jax.random.key(1), (2, 5))
    got = forward_jump(SCHEDULE, x0, jnp.int32(-1), jnp.int32(300), z)
    np.testing.assert_allclose(got, q_sample(SCHEDULE, x0, jnp.array([300, 300]), z), rtol=1e-6)


def test_forward_jump_composes_to_the_marginal():
    # q_sample to 200, then jump to 700, must be distributed as q_sample to 700.
    n = 40_000
    x0 = jnp.full((n, 1), 0.8)
    k1, k2 = jax.random.split(jax.random.key(2))
    x200 = q_sample(SCHEDULE, x0, jnp.full((n,), 200), jax.random.normal(k1, (n, 1)))
    x700 = forward_jump(
        SCHEDULE, x200, jnp.int32(200), jnp.int32(700), jax.random.normal(k2, (n, 1))
    )
    ab = float(SCHEDULE.alpha_bar[700])
    assert float(x700.mean()) == pytest.approx(0.8 * np.sqrt(ab), abs=0.02)
    assert float(x700.std()) == pytest.approx(np.sqrt(1 - ab), abs=0.02)


@pytest.mark.parametrize(("r", "j", "eta"), [(1, 1, 1.0), (3, 2, 1.0), (2, 1, 0.0)])
def test_known_pixels_are_kept_exactly(r, j, eta):
    known = jax.random.uniform(jax.random.key(3), SHAPE, minval=-1, maxval=1)
    m = hole()
    out = inpaint_sample(
        toy_eps, SCHEDULE, known, m, key=jax.random.key(4), num_steps=8, resample=r, jump=j, eta=eta
    )
    chex.assert_shape(out, SHAPE)
    np.testing.assert_array_equal(
        np.asarray(out)[np.asarray(m) == 0], np.asarray(known)[np.asarray(m) == 0]
    )
    assert not np.allclose(
        np.asarray(out)[np.asarray(m) == 1], np.asarray(known)[np.asarray(m) == 1]
    )
    assert np.all(np.isfinite(out))


def test_a_mask_over_everything_without_resampling_is_ddim():
    # Nothing known, eta = 0: every blend keeps the model's image, so this is DDIM from
    # the same initial noise.
    known = jnp.zeros(SHAPE)
    out = inpaint_sample(
        toy_eps, SCHEDULE, known, jnp.ones(SHAPE), key=jax.random.key(5), num_steps=10, eta=0.0
    )
    ref = ddim_sample(toy_eps, SCHEDULE, key=jax.random.key(5), shape=SHAPE, num_steps=10)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("resample", [1, 4])
def test_fills_the_hole_consistently_with_the_known_pixels(resample):
    # Data: the all +1 and the all -1 image. Knowing the border decides the hole.
    sign = jnp.array([1.0, -1.0, 1.0, -1.0])
    known = jnp.broadcast_to(sign[:, None, None, None], (4, 4, 4, 1))
    m = hole((4, 4, 4, 1))
    out = inpaint_sample(
        two_point_eps,
        SCHEDULE,
        known * (1 - m),
        m,
        key=jax.random.key(6),
        num_steps=50,
        resample=resample,
        jump=5,
    )
    filled = np.asarray(out)[np.asarray(m) == 1].reshape(4, 4)
    np.testing.assert_allclose(filled, np.broadcast_to(np.asarray(sign)[:, None], (4, 4)), atol=0.1)


def test_jit_and_vmap_over_keys():
    known = jax.random.uniform(jax.random.key(7), SHAPE, minval=-1, maxval=1)
    m = hole()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def sample(key):
        return inpaint_sample(toy_eps, SCHEDULE, known, m, key=key, num_steps=6, resample=2, jump=2)

    eager = inpaint_sample(
        toy_eps, SCHEDULE, known, m, key=jax.random.key(8), num_steps=6, resample=2, jump=2
    )
    np.testing.assert_allclose(sample(jax.random.key(8)), eager, rtol=1e-5, atol=1e-6)
    sample(jax.random.key(9))  # no retrace
    keys = jax.random.split(jax.random.key(10), 3)
    many = jax.vmap(
        functools.partial(
            inpaint_sample, toy_eps, SCHEDULE, known, m, num_steps=6, resample=2, jump=2
        )
    )(key=keys)
    chex.assert_shape(many, (3, *SHAPE))
    np.testing.assert_allclose(
        many[0],
        inpaint_sample(toy_eps, SCHEDULE, known, m, key=keys[0], num_steps=6, resample=2, jump=2),
        rtol=1e-5,
        atol=1e-6,
    )
    assert not np.allclose(many[0], many[1])  # different keys fill differently


def test_callback_sees_every_move():
    seen = []
    inpaint_sample(
        toy_eps,
        SCHEDULE,
        jnp.zeros(SHAPE),
        hole(),
        key=jax.random.key(0),
        num_steps=5,
        resample=2,
        callback=lambda i: seen.append(int(i)),
    )
    jax.effects_barrier()
    assert sorted(seen) == list(range(len(repaint_schedule(5, resample=2))))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(known=jnp.zeros(4)), r"known has shape \(4,\), expected \(batch, ...\)"),
        (
            dict(mask=jnp.zeros((3, 5, 4, 1))),
            r"mask has shape \(3, 5, 4, 1\), expected a shape .* known's \(3, 4, 4, 1\)",
        ),
        (
            dict(mask=jnp.zeros((4, 4, 1))),
            r"mask has shape \(4, 4, 1\), expected a shape of the same rank",
        ),
        (dict(num_steps=0), "num_steps is 0, expected 1 <= num_steps <= 1000"),
        (dict(num_steps=1001), "num_steps is 1001, expected 1 <= num_steps <= 1000"),
        (dict(resample=0), "resample is 0, expected an integer >= 1"),
        (dict(jump=0), "jump is 0, expected an integer >= 1"),
        (dict(jump=1.5), "jump is 1.5, expected an integer >= 1"),
    ],
)
def test_bad_inputs_are_one_sentence(kwargs, message):
    args = dict(known=jnp.zeros(SHAPE), mask=hole(), num_steps=5) | kwargs
    with pytest.raises(ValueError, match=message):
        inpaint_sample(
            toy_eps, SCHEDULE, args.pop("known"), args.pop("mask"), key=jax.random.key(0), **args
        )
