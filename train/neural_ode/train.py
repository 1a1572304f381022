"""Neural ODE on the seed's Lotka–Volterra trajectory: fit, extrapolate to t = 20, plot.

The data is the seed's trajectory (``u0 = (1, 1)``, 501 points on ``[0, 15]``) from an
accurate float64 solve (:func:`jaxdl.ode.reference_solution`), not SciPy's default
tolerances, which are about 0.24 off. Training runs in *stages*: stage ``k`` draws
``window_batches[k]`` random windows of ``window_lengths[k]`` points per iteration (a
window of all ``num_points`` is the seed's full-trajectory fit) for ``stage_iters[k]``
iterations. Each stage is one :func:`jaxdl.training.train` call of one ``Run`` (a
compiled chunk of ``log_every`` iterations per epoch); the parameters and the Adam
state carry over between stages.

The reported ``final_loss`` is the seed's metric: the mean Euclidean error over the 501
training points of one solve from ``u0`` over the whole interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from jaxdl import parallel
from jaxdl.ode import LotkaVolterra, SolveOptions, reference_solution, solve_errors
from jaxdl.ode.neural import NeuralODE, integrate, sample_windows, trajectory_loss, window_loss
from jaxdl.training import FullBatch, TrainState, train

from .._common import check_scale_support, open_run, setup
from ..cli_config import ConfigError
from . import plots

#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "the solver's tolerances are for float32",
    "remat": "config.adjoint chooses what the solve recomputes",
    "accum_steps": "the batch is the one trajectory, which cannot be split",
    "processes": "the trajectory is replicated on one host's devices",
}


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


SOLVERS = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "dopri8": diffrax.Dopri8}
ADJOINTS = {"recursive": diffrax.RecursiveCheckpointAdjoint, "backsolve": diffrax.BacksolveAdjoint}


def solve_options(config: ml_collections.ConfigDict) -> SolveOptions:
    """The config's solver and adjoint names as diffrax objects, with its tolerances."""
    if config.solver not in SOLVERS:
        raise ConfigError(
            f"config.solver is {config.solver!r}, expected one of {', '.join(SOLVERS)}."
        )
    if config.adjoint not in ADJOINTS:
        raise ConfigError(
            f"config.adjoint is {config.adjoint!r}, expected one of {', '.join(ADJOINTS)}."
        )
    return SolveOptions(
        solver=SOLVERS[config.solver](),
        adjoint=ADJOINTS[config.adjoint](),
        rtol=config.rtol,
        atol=config.atol,
        max_steps=config.max_steps,
    )


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
    if config.extrapolate_to < config.t1:
        raise ConfigError(
            f"config.extrapolate_to is {config.extrapolate_to}, expected >= t1 ({config.t1})."
        )


def make_loss(num_points: int, *, length: int, batch: int, options: SolveOptions):
    """The stage's loss: the full-trajectory fit when a window spans the data, else the
    mean fit of ``batch`` random windows of ``length`` points drawn from the step's key."""

    def loss_fn(model, data, *, train, key):
        del train
        ts, ys = data["ts"], data["ys"]
        if length == num_points:
            loss = trajectory_loss(model, ts, ys, options=options)
        else:
            starts = sample_windows(key, num_points, length=length, batch_size=batch)
            loss = window_loss(model, ts, ys, starts, length=length, options=options)
        return loss, {"loss": loss}

    return loss_fn


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Fits the neural ODE, writes metrics, plots and ``summary.json``; returns the summary."""
    check_config(config)
    check_scale_support(config, UNSUPPORTED)
    mesh = setup(config)
    options = solve_options(config)
    with (
        open_run(config, workdir, "neural_ode", tensorboard=config.tensorboard, x="step") as run,
        solve_errors(),
    ):
        data = make_data(config)
        ts, ys = jnp.asarray(data["ts"], jnp.float32), jnp.asarray(data["ys"], jnp.float32)
        if mesh is not None:  # on every device, beside the replicated state
            ts, ys = parallel.place((ts, ys), (parallel.replicated(mesh),) * 2)
        model_key, data_key = jax.random.split(jax.random.key(config.seed))
        # Step i's windows come from fold_in(data_key, i): the state's key is the data key.
        state = TrainState.create(
            build_model(config, key=model_key), build_optimizer(config), key=data_key
        )
        evaluate = jax.jit(lambda s: trajectory_loss(s.model(), ts, ys, options=options))
        init_loss = float(evaluate(state))
        run.end_epoch({"epoch": 0, "step": 0, "train_full_loss": init_loss})
        epochs, steady_steps, steady_s = 0, 0, 0.0
        stages = zip(config.window_lengths, config.window_batches, config.stage_iters, strict=True)
        for stage, (length, batch, iters) in enumerate(stages):
            info = {"stage": stage, "window_length": int(length)}
            result = train(
                state,
                FullBatch({"ts": ts, "ys": ys}, config.log_every),
                loss_fn=make_loss(config.num_points, length=length, batch=batch, options=options),
                num_epochs=-(-int(iters) // config.log_every),
                num_steps=int(iters),
                run=run,
                mesh=mesh,
                hooks=[lambda epoch, s, info=info: {**info, "train_full_loss": float(evaluate(s))}],
                epoch_offset=epochs,
                progress=config.progress,
                desc=f"neural_ode stage {stage}",
            )
            state, epochs = result.state, epochs + -(-int(iters) // config.log_every)
            steady_steps += result.steady_steps
            steady_s += result.steady_seconds
        final_model = state.model()
        final_loss = float(evaluate(state))
        ts_all = jnp.asarray(data["ts_all"], jnp.float32)
        pred_all = np.asarray(integrate(final_model, ys[0], ts_all, options=options), np.float64)

        n = config.num_points
        ext_err = np.linalg.norm(pred_all[n:] - data["ys_all"][n:], axis=-1)
        metrics = {
            "final_loss": final_loss,
            "initial_loss": init_loss,
            "extrapolation_loss": float(ext_err.mean()) if ext_err.size else float("nan"),
            "extrapolation_max_error": float(ext_err.max()) if ext_err.size else float("nan"),
            # Seconds per iteration after compilation (NaN when every call was a first call).
            "s_per_iter": steady_s / steady_steps if steady_steps else float("nan"),
        }
        if run.is_main and run.workdir is not None:
            plots.trajectories(data, pred_all, config.t1, run.path("trajectories.png"))
            plots.phase_portrait(data, pred_all, final_model, run.path("phase_portrait.png"))
            np.savez(
                run.path("prediction.npz"), ts=data["ts_all"], true=data["ys_all"], pred=pred_all
            )
        num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
        return run.finish(metrics, iterations=int(sum(config.stage_iters)), num_params=num_params)
