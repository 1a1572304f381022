"""Fixed-step Runge–Kutta: convergence orders, tableau checks, vmap, exact solutions."""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.ode import (
    RK4,
    TABLEAUS,
    ButcherTableau,
    DampedOscillator,
    LotkaVolterra,
    SolveOptions,
    fixed_step_solve,
    odeint,
)

# Save points once per time unit on the seed's interval; the error is the max over them.
TS = np.linspace(0.0, 15.0, 16)
# Steps per time unit: inside the asymptotic range of each method, above round-off.
STEPS = {
    "euler": (400, 800, 1600, 3200),
    "midpoint": (40, 80, 160, 320),
    "rk4": (40, 80, 160, 320),
    "rk38": (40, 80, 160, 320),
}
# The bands: RK4 in 3.8-4.2; Euler ~1 and midpoint ~2 with the same +-5%.
ORDER_BAND = {"euler": (0.95, 1.05), "midpoint": (1.9, 2.1), "rk4": (3.8, 4.2), "rk38": (3.8, 4.2)}


@pytest.fixture(scope="module")
def lv_reference():
    with jax.enable_x64(True):
        ys = odeint(
            LotkaVolterra(),
            jnp.ones(2),
            TS,
            options=SolveOptions(
                solver=diffrax.Dopri8(), rtol=1e-13, atol=1e-13, max_steps=100_000
            ),
        )
        return np.asarray(ys)


def order_slope(method: str, reference: np.ndarray) -> tuple[float, list[float]]:
    """Slope of log(max error) against log(dt) over the method's four step sizes."""
    errors = []
    with jax.enable_x64(True):
        for n in STEPS[method]:
            ys = fixed_step_solve(
                LotkaVolterra(), jnp.ones(2), TS, method=TABLEAUS[method], substeps=n
            )
            errors.append(float(np.abs(np.asarray(ys) - reference).max()))
    dts = 1.0 / np.asarray(STEPS[method])
    return float(np.polyfit(np.log(dts), np.log(errors), 1)[0]), errors


@pytest.mark.parametrize("method", list(STEPS))
def test_global_error_order(method, lv_reference):
    slope, errors = order_slope(method, lv_reference)
    lo, hi = ORDER_BAND[method]
    assert lo <= slope <= hi, (method, slope, errors)
    assert errors == sorted(errors, reverse=True)


def test_rk4_matches_closed_form_oscillator():
    osc = DampedOscillator(omega=2.0, zeta=0.1)
    y0 = jnp.array([1.0, -0.5])
    ts = jnp.linspace(0.0, 5.0, 11)
    ys = fixed_step_solve(osc, y0, ts, method=RK4, substeps=50)
    np.testing.assert_allclose(ys, osc.exact(ts, y0), atol=2e-5)


def test_seed_rk4_step_is_the_rk4_tableau():
    # The seed's RungeKuttaSolver.step written out, against one tableau step.
    f = LotkaVolterra()
    t, u, dt = 0.3, jnp.array([1.2, 0.7]), 0.1
    k1 = f(t, u)
    k2 = f(t + dt / 2, u + dt / 2 * k1)
    k3 = f(t + dt / 2, u + dt / 2 * k2)
    k4 = f(t + dt, u + dt * k3)
    expected = u + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    np.testing.assert_allclose(TABLEAUS["rk4"].step(f, t, u, dt, None), expected, rtol=1e-6)


def test_vmap_over_initial_conditions_and_nonuniform_ts():
    f = LotkaVolterra()
    y0s = jnp.array([[1.0, 1.0], [2.0, 0.5], [0.5, 2.0]])
    ts = jnp.array([0.0, 0.1, 0.5, 1.5])
    batched = jax.jit(jax.vmap(lambda y0: fixed_step_solve(f, y0, ts, substeps=20)))(y0s)
    assert batched.shape == (3, 4, 2)
    for i in range(3):
        np.testing.assert_allclose(batched[i], fixed_step_solve(f, y0s[i], ts, substeps=20))
    np.testing.assert_array_equal(batched[:, 0], y0s)


def test_args_are_differentiable():
    def final(k):
        return fixed_step_solve(
            lambda t, y, k: -k * y, jnp.ones(1), jnp.array([0.0, 1.0]), substeps=50, args=k
        )[-1, 0]

    # d/dk exp(-k) = -exp(-k).
    np.testing.assert_allclose(jax.grad(final)(0.7), -np.exp(-0.7), rtol=1e-5)


def test_bad_inputs():
    f = LotkaVolterra()
    with pytest.raises(ValueError, match=r"strictly increasing.*ts\[1\] = 1 and ts\[2\] = 1"):
        fixed_step_solve(f, jnp.ones(2), jnp.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"returned shape \(3,\) for a state of shape \(2,\)"):
        fixed_step_solve(lambda t, y, a: jnp.ones(3), jnp.ones(2), jnp.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="method is 'rk4', expected a ButcherTableau"):
        fixed_step_solve(f, jnp.ones(2), jnp.array([0.0, 1.0]), method="rk4")
    with pytest.raises(ValueError, match="substeps is 0"):
        fixed_step_solve(f, jnp.ones(2), jnp.array([0.0, 1.0]), substeps=0)


def test_tableau_validation():
    with pytest.raises(ValueError, match="strictly lower triangular"):
        ButcherTableau("bad", 2, a=((0.5, 0.5),), b=(0.0, 1.0), c=(0.0, 1.0))
    with pytest.raises(ValueError, match="b sums to"):
        ButcherTableau("bad", 2, a=((0.5,),), b=(0.5, 1.0), c=(0.0, 0.5))
    with pytest.raises(ValueError, match=r"c\[1\] is 0.7"):
        ButcherTableau("bad", 2, a=((0.5,),), b=(0.0, 1.0), c=(0.0, 0.7))
