"""Neural ODE on the seed's Lotka–Volterra trajectory: fit, extrapolate to t = 20, plot.

The data is the seed's trajectory (``u0 = (1, 1)``, 501 points on ``[0, 15]``) from an
accurate float64 solve (:func:`jaxdl.ode.reference_solution`), not SciPy's default
tolerances, which are about 0.24 off. Training runs in *stages*: stage ``k`` draws
``window_batches[k]`` random windows of ``window_lengths[k]`` points per iteration (a
window of all ``num_points`` is the seed's full-trajectory fit) for ``stage_iters[k]``
iterations. Each stage is one compiled ``lax.scan`` per ``log_every`` iterations; the
parameters and the Adam state carry over between stages.

The reported ``final_loss`` is the seed's metric: the mean Euclidean error over the 501
training points of one solve from ``u0`` over the whole interval.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from jaxdl.errors import NonFiniteLossError
from jaxdl.nn.neural_ode import NeuralODE, integrate, sample_windows, trajectory_loss, window_loss
from jaxdl.ode import ADJOINTS, SOLVERS, LotkaVolterra, reference_solution, solve_errors
from jaxdl.training import MetricsWriter, plot_curves, write_summary
from train.cli_config import ConfigError
from train.neural_ode import plots


def make_data(config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
    """The training trajectory and its continuation to ``extrapolate_to`` (float64)."""
    ts = np.linspace(0.0, config.t1, config.num_points)
    dt = ts[1] - ts[0]
    ts_ext = np.arange(config.t1, config.extrapolate_to + dt / 2, dt)
    ts_all = np.concatenate([ts, ts_ext[1:]])
    ys_all = reference_solution(LotkaVolterra(), np.asarray(config.u0, np.float64), ts_all)
    n = config.num_points
    return {"ts": ts, "ys": ys_all[:n], "ts_all": ts_all, "ys_all": ys_all}


def build_model(config: ml_collections.ConfigDict, *, key: jax.Array) -> NeuralODE:
    """``NeuralODE(2, hidden)``; ``init_std <= 0`` means Flax's default initialisation."""
    return NeuralODE(
        2,
        tuple(config.hidden),
        activation=config.activation,
        init_std=config.init_std if config.init_std > 0 else None,
        rngs=nnx.Rngs(params=key),
    )


def build_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Adam with a constant rate (the seed) or warm-up + cosine decay over the whole run."""
    total = int(sum(config.stage_iters))
    if config.schedule == "constant":
        lr = config.learning_rate
    elif config.schedule == "cosine":
        lr = optax.warmup_cosine_decay_schedule(
            0.0,
            config.learning_rate,
            config.warmup_iters,
            total,
            end_value=config.end_lr_ratio * config.learning_rate,
        )
    else:
        raise ConfigError(f"config.schedule is {config.schedule!r}, expected constant or cosine.")
    tx = optax.adam(lr)
    if config.grad_clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(config.grad_clip), tx)
    return tx


def ode_kwargs(config: ml_collections.ConfigDict) -> dict[str, Any]:
    return {
        "solver": config.solver,
        "rtol": config.rtol,
        "atol": config.atol,
        "adjoint": config.adjoint,
        "max_steps": config.max_steps,
    }


def check_config(config: ml_collections.ConfigDict) -> None:
    """One sentence per config mistake, before anything compiles."""
    stages = (len(config.window_lengths), len(config.window_batches), len(config.stage_iters))
    if len(set(stages)) != 1 or stages[0] == 0:
        raise ConfigError(
            "config.window_lengths, window_batches and stage_iters have lengths "
            f"{stages}, expected one entry per stage in each."
        )
    for length in config.window_lengths:
        if not 2 <= length <= config.num_points:
            raise ConfigError(
                f"config.window_lengths has {length}, expected 2 <= length <= num_points "
                f"({config.num_points})."
            )
    if config.solver not in SOLVERS:
        raise ConfigError(
            f"config.solver is {config.solver!r}, expected one of {', '.join(SOLVERS)}."
        )
    if config.adjoint not in ADJOINTS:
        raise ConfigError(
            f"config.adjoint is {config.adjoint!r}, expected one of {', '.join(ADJOINTS)}."
        )
    if config.extrapolate_to < config.t1:
        raise ConfigError(
            f"config.extrapolate_to is {config.extrapolate_to}, expected >= t1 ({config.t1})."
        )


def make_runner(graphdef, tx, ts, ys, *, length: int, batch: int, ode_kw: dict, num_iters: int):
    """A jitted ``(params, opt_state, key, first_iter) -> (params, opt_state, losses)``.

    Runs ``num_iters`` Adam iterations in one ``lax.scan``; iteration ``i`` draws its
    windows from ``fold_in(key, i)``. A window as long as the data is the full fit.
    """
    full = length == ts.shape[0]

    def loss_fn(params, key):
        model = nnx.merge(graphdef, params)
        if full:
            return trajectory_loss(model, ts, ys, **ode_kw)
        starts = sample_windows(key, ts.shape[0], length=length, batch_size=batch)
        return window_loss(model, ts, ys, starts, length=length, **ode_kw)

    def run(params, opt_state, key, first_iter):
        def body(carry, i):
            params, opt_state = carry
            # value_and_grad, not grad: the solver's failure check hangs on the value.
            loss, grads = jax.value_and_grad(loss_fn)(params, jax.random.fold_in(key, i))
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        iters = first_iter + jnp.arange(num_iters)
        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), iters)
        return params, opt_state, losses

    return jax.jit(run, donate_argnums=(0, 1))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Fits the neural ODE, writes metrics, plots and ``summary.json``; returns the summary."""
    tic = time.perf_counter()
    check_config(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data = make_data(config)
    ts, ys = jnp.asarray(data["ts"], jnp.float32), jnp.asarray(data["ys"], jnp.float32)
    model_key, data_key = jax.random.split(jax.random.key(config.seed))
    model = build_model(config, key=model_key)
    graphdef, params = nnx.split(model)
    tx = build_optimizer(config)
    opt_state = tx.init(params)
    ode_kw = ode_kwargs(config)
    evaluate = jax.jit(lambda p: trajectory_loss(nnx.merge(graphdef, p), ts, ys, **ode_kw))

    writer = MetricsWriter(workdir, tensorboard=config.tensorboard)
    writer.path.write_text("")  # a rerun in the same workdir starts a fresh history
    history: list[dict[str, Any]] = []
    total = int(sum(config.stage_iters))
    done, steady_seconds, steady_iters = 0, 0.0, 0
    with solve_errors(), tqdm(total=total, desc="neural_ode", disable=not config.progress) as bar:
        init_loss = float(evaluate(params))
        history.append({"iteration": 0, "train_full_loss": init_loss})
        writer.write(history[-1], step=0)
        for stage, (length, batch, iters) in enumerate(
            zip(config.window_lengths, config.window_batches, config.stage_iters, strict=True)
        ):
            runners, compiled = {}, set()
            left = int(iters)
            while left > 0:
                n = min(config.log_every, left)
                if n not in runners:
                    runners[n] = make_runner(
                        graphdef,
                        tx,
                        ts,
                        ys,
                        length=length,
                        batch=batch,
                        ode_kw=ode_kw,
                        num_iters=n,
                    )
                t0 = time.perf_counter()
                params, opt_state, losses = runners[n](params, opt_state, data_key, done)
                losses = np.asarray(losses)
                if n in compiled:  # a runner's first call includes its compilation
                    steady_seconds += time.perf_counter() - t0
                    steady_iters += n
                compiled.add(n)
                done, left = done + n, left - n
                if not np.all(np.isfinite(losses)):
                    raise NonFiniteLossError(
                        f"The loss became non-finite in stage {stage} before iteration {done}; "
                        "lower config.learning_rate or set config.grad_clip."
                    )
                record = {
                    "iteration": done,
                    "stage": stage,
                    "window_length": int(length),
                    "train_loss": float(losses[-1]),
                    "train_full_loss": float(evaluate(params)),
                }
                history.append(record)
                writer.write(record, step=done)
                bar.update(n)
                bar.set_postfix(loss=f"{record['train_full_loss']:.4f}", window=int(length))
        writer.close()
        final_model = nnx.merge(graphdef, params)
        final_loss = float(evaluate(params))
        ts_all = jnp.asarray(data["ts_all"], jnp.float32)
        pred_all = np.asarray(integrate(final_model, ys[0], ts_all, **ode_kw), np.float64)

    n = config.num_points
    ext_err = np.linalg.norm(pred_all[n:] - data["ys_all"][n:], axis=-1)
    metrics = {
        "final_loss": final_loss,
        "initial_loss": init_loss,
        "extrapolation_loss": float(ext_err.mean()) if ext_err.size else float("nan"),
        "extrapolation_max_error": float(ext_err.max()) if ext_err.size else float("nan"),
        # Seconds per iteration after compilation (NaN when every call was a first call).
        "s_per_iter": steady_seconds / steady_iters if steady_iters else float("nan"),
    }
    plot_curves(history, workdir / "loss_curve.png", x="iteration")
    plots.trajectories(data, pred_all, config.t1, workdir / "trajectories.png")
    plots.phase_portrait(data, pred_all, final_model, workdir / "phase_portrait.png")
    np.savez(workdir / "prediction.npz", ts=data["ts_all"], true=data["ys_all"], pred=pred_all)
    num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    wall = time.perf_counter() - tic
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=wall,
        recipe="neural_ode",
        iterations=total,
        num_params=num_params,
    )
    return {"metrics": metrics, "wall_time_s": wall, "num_params": num_params}
