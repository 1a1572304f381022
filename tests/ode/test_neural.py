"""NeuralODE: the seed's network, gradients of the fit loss under both adjoints and FD."""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.ode import LotkaVolterra, SolveOptions, reference_solution
from jaxdl.ode.neural import (
    NeuralODE,
    integrate,
    sample_windows,
    trajectory_loss,
    window_loss,
)

TS = np.linspace(0.0, 15.0, 501)


@pytest.fixture(scope="module")
def lv_data():
    return TS, reference_solution(LotkaVolterra(), [1.0, 1.0], TS)


def test_seed_network_shapes_and_init():
    model = NeuralODE(2, (16,), init_std=0.05, rngs=nnx.Rngs(0))
    w1, w2 = model.layers[0].kernel[...], model.layers[1].kernel[...]
    assert w1.shape == (2, 16) and w2.shape == (16, 2)
    assert float(jnp.abs(model.layers[0].bias[...]).max()) == 0.0
    assert 0.03 < float(jnp.std(w1)) < 0.07
    assert model(0.0, jnp.ones((4, 3, 2))).shape == (4, 3, 2)
    with pytest.raises(ValueError, match=r"y has shape \(3,\), expected shape \(\.\.\., 2\)"):
        model(0.0, jnp.ones(3))
    with pytest.raises(ValueError, match="activation is 'relu6'"):
        NeuralODE(2, (16,), activation="relu6", rngs=nnx.Rngs(0))


def _loss_fn(model, ts, ys, adjoint):
    graphdef, params = nnx.split(model)

    def loss(params):
        return trajectory_loss(
            nnx.merge(graphdef, params),
            ts,
            ys,
            options=SolveOptions(
                solver=diffrax.Dopri5(), rtol=1e-10, atol=1e-10, adjoint=adjoint, max_steps=20_000
            ),
        )

    return loss, params


@pytest.mark.slow
def test_fit_loss_gradients_backsolve_recursive_and_finite_differences(lv_data):
    ts, ys = lv_data
    with jax.enable_x64(True):
        # A non-trivial field (Flax's default init), so the gradient is far from zero.
        model = NeuralODE(2, (16,), init_std=None, rngs=nnx.Rngs(1))
        model = jax.tree.map(lambda x: x.astype(jnp.float64), model)
        ts, ys = jnp.asarray(ts), jnp.asarray(ys)
        grads = {}
        adjoints = {
            "recursive": diffrax.RecursiveCheckpointAdjoint(),
            "backsolve": diffrax.BacksolveAdjoint(),
        }
        for name, adjoint in adjoints.items():
            loss, params = _loss_fn(model, ts, ys, adjoint)
            value, grads[name] = jax.jit(jax.value_and_grad(loss))(params)
            assert np.isfinite(float(value))
        flat = {
            k: jnp.concatenate([x.ravel() for x in jax.tree.leaves(g)]) for k, g in grads.items()
        }
        rel = float(jnp.linalg.norm(flat["backsolve"] - flat["recursive"]))
        rel /= float(jnp.linalg.norm(flat["recursive"]))
        print(f"relative gradient difference backsolve vs recursive: {rel:.2e}")
        assert rel < 1e-4, rel

        # Central differences along a random direction against the directional derivative.
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.key(0), len(leaves))
        direction = treedef.unflatten(
            [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)]
        )
        eps = 1e-5
        loss_jit = jax.jit(loss)
        shift = lambda s: jax.tree.map(lambda p, d: p + s * d, params, direction)  # noqa: E731
        fd = (float(loss_jit(shift(eps))) - float(loss_jit(shift(-eps)))) / (2 * eps)
        for adjoint, g in grads.items():
            analytic = sum(
                float(jnp.vdot(a, d))
                for a, d in zip(jax.tree.leaves(g), jax.tree.leaves(direction), strict=True)
            )
            print(f"{adjoint}: directional derivative {analytic:.9f}, central FD {fd:.9f}")
            assert abs(analytic - fd) <= 1e-5 * max(1.0, abs(fd)), (adjoint, analytic, fd)


@pytest.mark.slow
def test_gradient_is_finite_at_zero_error_point_and_extrapolates():
    # At t0 the prediction equals y0 exactly: jnp.linalg.norm would give NaN gradients.
    model = NeuralODE(2, (16,), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    ts = jnp.linspace(0.0, 20.0, 11)

    @jax.jit
    def run(params):
        model = nnx.merge(graphdef, params)
        ys = integrate(model, jnp.ones(2), ts) + jnp.array([0.0, 0.1]) * ts[:, None]
        return ys, jax.grad(lambda p: trajectory_loss(nnx.merge(graphdef, p), ts, ys))(params)

    ys, g = run(params)
    assert ys.shape == (11, 2) and bool(jnp.all(jnp.isfinite(ys)))  # past the data's t = 15
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(g))
    assert any(float(jnp.abs(x).max()) > 0 for x in jax.tree.leaves(g))


def test_window_loss_is_the_mean_of_trajectory_losses(lv_data):
    ts, ys = (jnp.asarray(a, jnp.float32) for a in lv_data)
    model = NeuralODE(2, (16,), init_std=None, rngs=nnx.Rngs(2))
    graphdef, params = nnx.split(model)
    starts = jnp.array([0, 100, 450])
    batched = jax.jit(lambda p, s: window_loss(nnx.merge(graphdef, p), ts, ys, s, length=51))(
        params, starts
    )
    single_fn = jax.jit(
        lambda p, s: trajectory_loss(
            nnx.merge(graphdef, p),
            jax.lax.dynamic_slice_in_dim(ts, s, 51),
            jax.lax.dynamic_slice_in_dim(ys, s, 51),
        )
    )
    single = [single_fn(params, s) for s in (0, 100, 450)]
    np.testing.assert_allclose(batched, np.mean(single), rtol=1e-5)
    idx = sample_windows(jax.random.key(0), 501, length=51, batch_size=64)
    assert idx.shape == (64,) and int(idx.min()) >= 0 and int(idx.max()) <= 450
    with pytest.raises(ValueError, match="length is 600"):
        sample_windows(jax.random.key(0), 501, length=600, batch_size=4)
