"""Lotka–Volterra: solve the seed's system several ways and compare them to a reference.

Solvers compared on the seed's grid (``u0 = (1, 1)``, ``num_points`` save points on
``[0, t1]``), each against an 8th-order float64 solve at tolerance 1e-12:

- SciPy ``solve_ivp`` (RK45) at the seed's default tolerances and at ``rtol``/``atol``;
- diffrax Tsit5 and Dopri5 through :func:`jaxdl.ode.odeint` at ``rtol``/``atol``;
- the fixed-step methods of :mod:`jaxdl.ode` (Euler, midpoint, RK4, ...) at several
  step sizes, with the fitted convergence order (slope of log error against log dt).

Writes ``solvers.json`` (the table), ``trajectory.png``, ``phase_portrait.png`` and
``convergence.png`` into the workdir, plus ``summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import parallel
from jaxdl.ode import (
    TABLEAUS,
    LotkaVolterra,
    SolveOptions,
    fixed_step_solve,
    reference_solution,
    solve,
)
from jaxdl.training import Run
from jaxdl.viz import figure, save_figure

from .._common import check_scale_support, open_run, setup
from ..cli_config import ConfigError

#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "the solvers are compared in float64",
    "remat": "nothing is differentiated",
    "accum_steps": "nothing is trained",
    "processes": "the solutions are compared on one host",
}


def _on(mesh, *arrays: jax.Array) -> tuple[jax.Array, ...]:
    """``arrays`` replicated on every device of ``mesh`` (as they are without one)."""
    if mesh is None:
        return arrays
    return parallel.place(arrays, (parallel.replicated(mesh),) * len(arrays))


def _system(config: ml_collections.ConfigDict) -> LotkaVolterra:
    return LotkaVolterra(config.alpha, config.beta, config.delta, config.gamma)


def scipy_solve(config, ts: np.ndarray, **tols: float) -> tuple[np.ndarray, dict[str, Any]]:
    """SciPy's ``solve_ivp`` (RK45) on the grid; ``tols`` empty means SciPy's defaults."""
    from scipy.integrate import solve_ivp

    lv = _system(config)

    def f(t: float, u: np.ndarray) -> np.ndarray:
        u1, u2 = u
        return np.array([lv.alpha * u1 - lv.beta * u1 * u2, lv.delta * u1 * u2 - lv.gamma * u2])

    tic = time.perf_counter()
    sol = solve_ivp(f, (ts[0], ts[-1]), np.asarray(config.u0, float), t_eval=ts, **tols)
    return sol.y.T, {"seconds": time.perf_counter() - tic, "nfev": int(sol.nfev)}


def diffrax_solve(
    config, ts: np.ndarray, solver: diffrax.AbstractSolver, mesh=None
) -> tuple[np.ndarray, dict[str, Any]]:
    """``jaxdl.ode.solve`` in float64 at ``config.rtol``/``atol``; time excludes compilation."""
    options = SolveOptions(
        solver=solver, rtol=config.rtol, atol=config.atol, max_steps=config.max_steps
    )
    with jax.enable_x64(True):
        run = jax.jit(lambda y0, ts: solve(_system(config), y0, ts, options=options))
        y0, t = _on(mesh, jnp.asarray(config.u0, jnp.float64), jnp.asarray(ts))
        jax.block_until_ready(run(y0, t))
        tic = time.perf_counter()
        sol = jax.block_until_ready(run(y0, t))
        seconds = time.perf_counter() - tic
        return np.asarray(sol.ys), {"seconds": seconds, "steps": int(sol.stats["num_steps"])}


def convergence(config, mesh=None) -> dict[str, Any]:
    """Max error for each method and step count, and the fitted order (log-log slope).

    Errors are measured at ``order_points`` save points on ``[0, t1]`` against a float64
    Dopri8 solve at tolerance 1e-13. Coarser than the seed's grid on purpose: the steps
    between save points can then span each method's asymptotic range while the error
    stays well above the reference's own error (about 1e-11).
    """
    ts = np.linspace(0.0, config.t1, config.order_points)
    reference = reference_solution(_system(config), np.asarray(config.u0, float), ts, tol=1e-13)
    out = {}
    with jax.enable_x64(True):
        y0, t = _on(mesh, jnp.asarray(config.u0, jnp.float64), jnp.asarray(ts))
        for method in config.fixed_methods:
            tableau = TABLEAUS[method]  # names checked in train_and_evaluate
            steps = [int(s) for s in config.substeps[method]]
            errors = []
            for s in steps:
                ys = fixed_step_solve(_system(config), y0, t, method=tableau, substeps=s)
                errors.append(float(np.abs(np.asarray(ys) - reference).max()))
            dts = [(ts[1] - ts[0]) / s for s in steps]
            slope = float(np.polyfit(np.log(dts), np.log(errors), 1)[0])
            out[method] = {
                "dt": dts,
                "max_error": errors,
                "order": slope,
                "expected_order": tableau.order,
            }
    return out


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Runs every solver, writes the table and plots; returns the summary."""
    unknown = [m for m in config.fixed_methods if m not in TABLEAUS]
    if unknown:
        raise ConfigError(
            f"config.fixed_methods has {unknown}, expected names in {list(TABLEAUS)}."
        )
    missing = [m for m in config.fixed_methods if m not in config.substeps]
    if missing:
        raise ConfigError(f"config.substeps lacks {missing}; give the step counts per method.")
    check_scale_support(config, UNSUPPORTED)
    mesh = setup(config)
    with open_run(config, workdir, "lotka_volterra", tensorboard=False, checkpoints=False) as run:
        return _compare(config, run, mesh)


def _compare(config: ml_collections.ConfigDict, run: Run, mesh=None) -> dict[str, Any]:
    """Solves with every method, writes ``solvers.json`` and the plots through ``run``."""
    workdir = run.workdir
    ts = np.linspace(0.0, config.t1, config.num_points)
    reference = reference_solution(_system(config), np.asarray(config.u0, float), ts)

    def max_diff(ys: np.ndarray) -> float:
        return float(np.abs(ys - reference).max())

    table: dict[str, dict[str, Any]] = {}
    ys_default, info = scipy_solve(config, ts)
    table["scipy_rk45_default_tol"] = {"max_error": max_diff(ys_default), **info}
    ys_scipy, info = scipy_solve(config, ts, rtol=config.rtol, atol=config.atol)
    table["scipy_rk45"] = {"max_error": max_diff(ys_scipy), **info}
    solutions = {"scipy_rk45": ys_scipy}
    for solver, diffrax_solver in (("tsit5", diffrax.Tsit5()), ("dopri5", diffrax.Dopri5())):
        ys, info = diffrax_solve(config, ts, diffrax_solver, mesh)
        table[f"diffrax_{solver}"] = {"max_error": max_diff(ys), **info}
        table[f"diffrax_{solver}"]["max_diff_vs_scipy"] = float(np.abs(ys - ys_scipy).max())
        solutions[solver] = ys
    orders = convergence(config, mesh)
    (workdir / "solvers.json").write_text(
        json.dumps(
            {
                "tolerances": {"rtol": config.rtol, "atol": config.atol},
                "adaptive": table,
                "fixed_step": orders,
            },
            indent=2,
        )
        + "\n"
    )
    _plots(workdir, ts, reference, ys_default, orders)

    metrics = {
        "tsit5_vs_scipy_max_diff": table["diffrax_tsit5"]["max_diff_vs_scipy"],
        "dopri5_vs_scipy_max_diff": table["diffrax_dopri5"]["max_diff_vs_scipy"],
        "scipy_default_tol_max_error": table["scipy_rk45_default_tol"]["max_error"],
        "tsit5_max_error": table["diffrax_tsit5"]["max_error"],
        **{f"{m}_order": v["order"] for m, v in orders.items()},
    }
    return run.finish(metrics)


def _plots(workdir: Path, ts, reference, ys_default, orders) -> None:
    fig, ax = figure(figsize=(8, 3.5))
    for i, color in enumerate(("C0", "C1")):
        ax.plot(ts, reference[:, i], color=color, label=f"$u_{i + 1}$ reference")
        ax.plot(ts, ys_default[:, i], color=color, ls=":", label=f"$u_{i + 1}$ SciPy default tol")
    ax.set_xlabel("$t$")
    ax.legend(ncol=2, fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, workdir / "trajectory.png")

    fig, ax = figure(figsize=(4.5, 4.5))
    ax.plot(reference[:, 0], reference[:, 1])
    ax.set_xlabel("$u_1$ (prey)")
    ax.set_ylabel("$u_2$ (predator)")
    ax.set_title("phase portrait")
    save_figure(fig, workdir / "phase_portrait.png")

    fig, ax = figure(figsize=(5, 4))
    for method, row in orders.items():
        ax.loglog(row["dt"], row["max_error"], "o-", label=f"{method} (slope {row['order']:.2f})")
    ax.set_xlabel("step size $h$")
    ax.set_ylabel("max error over the save points")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, workdir / "convergence.png")
