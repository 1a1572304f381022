"""diffrax-backed ``odeint``: agreement with SciPy, vmap, clear errors for bad inputs."""

from __future__ import annotations

import dataclasses

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.errors import JaxdlError, ODESolveError
from jaxdl.ode import (
    CubicSpiral,
    DampedOscillator,
    LotkaVolterra,
    SolveOptions,
    odeint,
    reference_solution,
    solve,
    solve_errors,
)

scipy_integrate = pytest.importorskip("scipy.integrate")

TS = np.linspace(0.0, 15.0, 501)  # the seed's grid


def f_true(_t: float, u: np.ndarray) -> np.ndarray:
    """The seed's vector field in float64 NumPy (the JAX one would compute in float32)."""
    return np.array([1.5 * u[0] - 1.0 * u[0] * u[1], 3.0 * u[0] * u[1] - 1.0 * u[1]])


@pytest.mark.parametrize("solver", [diffrax.Tsit5(), diffrax.Dopri5()])
def test_lotka_volterra_agrees_with_scipy(solver):
    options = SolveOptions(solver=solver, rtol=1e-8, atol=1e-8)
    with jax.enable_x64(True):
        ys = odeint(LotkaVolterra(), jnp.ones(2), TS, options=options)
        ys = np.asarray(ys)
    sol = scipy_integrate.solve_ivp(f_true, (0, 15), [1.0, 1.0], t_eval=TS, rtol=1e-8, atol=1e-8)
    assert sol.success and ys.shape == sol.y.T.shape == (501, 2)
    assert np.abs(ys - sol.y.T).max() < 1e-6
    # The warning, measured: SciPy's default tolerances are 0.24 off.
    coarse = scipy_integrate.solve_ivp(f_true, (0, 15), [1.0, 1.0], t_eval=TS)
    assert np.abs(coarse.y.T - ys).max() > 0.2


def test_reference_conserves_lotka_volterra_invariant():
    lv = LotkaVolterra()
    ys = reference_solution(lv, [1.0, 1.0], TS)
    with jax.enable_x64(True):
        v = np.asarray(lv.invariant(jnp.asarray(ys)))
    assert np.ptp(v) < 1e-9


def test_oscillator_closed_form_and_vmap():
    osc = DampedOscillator()
    ts = jnp.linspace(0.0, 3.0, 7)
    y0s = jnp.array([[1.0, 0.0], [0.0, 1.0], [-0.5, 2.0]])
    options = SolveOptions(rtol=1e-7, atol=1e-7)
    ys = jax.jit(jax.vmap(lambda y0: odeint(osc, y0, ts, options=options)))(y0s)
    for i in range(3):
        np.testing.assert_allclose(ys[i], osc.exact(ts, y0s[i]), atol=1e-5)


def test_spiral_runs_and_counts_steps():
    sol = solve(CubicSpiral(), jnp.array([2.0, 0.0]), jnp.linspace(0.0, 5.0, 11))
    assert sol.ys.shape == (11, 2) and int(sol.stats["num_steps"]) > 10
    assert bool(jnp.all(jnp.isfinite(sol.ys)))


def test_backsolve_gradient_wrt_args_and_y0_is_analytic():
    options = SolveOptions(adjoint=diffrax.BacksolveAdjoint(), rtol=1e-7, atol=1e-7)

    def loss(y0, k):
        ts = jnp.array([0.0, 0.5, 1.0])
        ys = odeint(lambda t, y, k: -k * y, y0, ts, args=k, options=options)
        return ys.sum()

    # d/dk sum_t exp(-k t) * y0 = -sum t exp(-k t) * y0, per component.
    expected_k = -2 * (0.5 * np.exp(-0.4) + np.exp(-0.8))
    # The recursive adjoint is checked against this one and against finite differences on
    # the neural-ODE fit loss (tests/ode/test_neural.py).
    g_y0, g_k = jax.jit(jax.grad(loss, argnums=(0, 1)))(jnp.ones(2), 0.8)
    np.testing.assert_allclose(g_k, expected_k, rtol=1e-4)
    np.testing.assert_allclose(g_y0, 1 + np.exp(-0.4) + np.exp(-0.8), rtol=1e-4)


def test_non_increasing_ts():
    with pytest.raises(ValueError, match=r"strictly increasing.*ts\[1\] = 2 and ts\[2\] = 1"):
        odeint(LotkaVolterra(), jnp.ones(2), jnp.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"ts has shape \(1,\)"):
        odeint(LotkaVolterra(), jnp.ones(2), jnp.array([0.0]))


def test_wrong_vector_field_shape():
    with pytest.raises(ValueError, match=r"returned shape \(2, 2\) for a state of shape \(2,\)"):
        odeint(lambda t, y, a: jnp.outer(y, y), jnp.ones(2), jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="returned a tuple"):
        odeint(lambda t, y, a: (y, y), jnp.ones(2), jnp.array([0.0, 1.0]))


def test_solver_and_adjoint_must_be_diffrax_objects():
    # Names are a recipe's business (its build step maps them once); the library takes objects.
    with pytest.raises(TypeError, match="solver is 'tsit5', expected a diffrax solver"):
        SolveOptions(solver="tsit5")
    with pytest.raises(TypeError, match="adjoint is 'backsolve', expected a diffrax adjoint"):
        SolveOptions(adjoint="backsolve")
    with pytest.raises(ValueError, match="max_steps is 0, expected an integer >= 1"):
        SolveOptions(max_steps=0)
    with pytest.raises(TypeError, match="options is .*, expected a jaxdl.ode.SolveOptions"):
        odeint(LotkaVolterra(), jnp.ones(2), jnp.array([0.0, 1.0]), options={"rtol": 1e-3})
    # Frozen, and equal when built from the same values.
    assert SolveOptions(solver=diffrax.Dopri5()) == SolveOptions(solver=diffrax.Dopri5())
    with pytest.raises(dataclasses.FrozenInstanceError):
        SolveOptions().rtol = 1e-3  # type: ignore[misc]


def test_step_limit_is_one_sentence_eager():
    with pytest.raises(ODESolveError) as info:
        odeint(LotkaVolterra(), jnp.ones(2), TS, options=SolveOptions(max_steps=10))
    message = str(info.value)
    assert message == (
        "The ODE solve used all max_steps=10 steps before t = 15; raise max_steps, loosen "
        "rtol/atol, or check that the vector field does not blow up."
    )
    assert isinstance(info.value, JaxdlError)
    # throw=False hands back the inf-filled output instead.
    ys = odeint(LotkaVolterra(), jnp.ones(2), TS, options=SolveOptions(max_steps=10), throw=False)
    assert not bool(jnp.all(jnp.isfinite(ys)))


# The other case, the step limit hit inside a jitted fit with the recursive
# adjoint, runs end to end in tests/train/test_ode_recipes.py (one CLI line, through
# solve_errors): not repeated here to keep the suite's compile time down.


def test_solve_errors_passes_other_errors_through():
    with pytest.raises(KeyError), solve_errors():
        raise KeyError("x")
