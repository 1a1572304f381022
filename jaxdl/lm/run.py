"""Whole training runs of character-level language models: one run, or a vmapped sweep.

A run is described by a flat mapping (an ``ml_collections.ConfigDict`` or a dict) with
the fields of :data:`RUN_FIELDS`. The fields in :data:`SHAPE_FIELDS` change the compiled
program; the others (seed, learning rate, decay) are arrays in the train state, so runs
that differ only in those are stacked and trained by one vmapped program.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxdl.errors import NonFiniteLossError
from jaxdl.lm.train import (
    Data,
    create_state,
    make_optimizer,
    make_split_evaluator,
    make_trainer,
    with_hyperparams,
)
from jaxdl.nn.char_lm import build_char_lm
from jaxdl.training.checkpoint import Checkpointer
from jaxdl.training.state import TrainState

SHAPE_FIELDS = ("model", "block_size", "n_embd", "n_hidden", "init", "batch_size", "num_steps")
VMAP_FIELDS = ("seed", "learning_rate", "lr_decay_at", "lr_decay_factor")
RUN_FIELDS = SHAPE_FIELDS + VMAP_FIELDS
SPLITS = ("train", "dev", "test")

SplitsFn = Callable[[int], Mapping[str, Data]]


def run_spec(config: Mapping[str, Any]) -> dict[str, Any]:
    """The run fields of ``config`` as a plain dict; ``ValueError`` names a missing one."""
    missing = [f for f in RUN_FIELDS if f not in config]
    if missing:
        raise ValueError(f"The run config lacks {missing}; it needs all of {list(RUN_FIELDS)}.")
    spec = {f: config[f] for f in RUN_FIELDS}
    if spec["num_steps"] < 1 or spec["batch_size"] < 1:
        raise ValueError(
            f"num_steps is {spec['num_steps']} and batch_size {spec['batch_size']}, "
            "expected both >= 1."
        )
    return spec


def _model_fn(spec: Mapping[str, Any]) -> Callable[..., Any]:
    return partial(
        build_char_lm,
        spec["model"],
        block_size=spec["block_size"],
        n_embd=spec["n_embd"],
        n_hidden=spec["n_hidden"],
        init=spec["init"],
    )


def _decay_step(spec: Mapping[str, Any]) -> int:
    return int(spec["lr_decay_at"] * spec["num_steps"])


def _hyper(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "learning_rate": spec["learning_rate"],
        "decay_step": _decay_step(spec),
        "decay_factor": spec["lr_decay_factor"],
    }


def init_state(spec: Mapping[str, Any]) -> TrainState:
    """The initial train state of one run (model, optimiser and keys from ``spec``)."""
    tx = make_optimizer(**_hyper(spec))
    return create_state(_model_fn(spec), tx, jax.random.key(spec["seed"]))


def init_states(specs: Sequence[Mapping[str, Any]]) -> TrainState:
    """The initial states of runs with equal :data:`SHAPE_FIELDS`, stacked on axis 0.

    Row ``i`` equals ``init_state(specs[i])`` leaf by leaf.
    """
    shapes = {tuple(s[f] for f in SHAPE_FIELDS) for s in specs}
    if len(shapes) != 1:
        raise ValueError(f"init_states needs runs of one shape, got {len(shapes)}: {shapes}.")
    tx = make_optimizer(**_hyper(specs[0]))
    keys = jnp.stack([jax.random.key(s["seed"]) for s in specs])
    states = jax.vmap(lambda k: create_state(_model_fn(specs[0]), tx, k))(keys)
    hyper = {k: np.asarray([_hyper(s)[k] for s in specs]) for k in _hyper(specs[0])}
    return jax.vmap(lambda st, h: with_hyperparams(st, **h))(states, hyper)


def _chunks(num_steps: int, chunk_steps: int) -> list[int]:
    chunk_steps = max(1, min(chunk_steps, num_steps))
    sizes = [chunk_steps] * (num_steps // chunk_steps)
    return sizes + ([num_steps % chunk_steps] if num_steps % chunk_steps else [])


@dataclass
class RunResult:
    """What :func:`train_run` and :func:`train_sweep` return for each run."""

    spec: dict[str, Any]
    state: TrainState | None
    losses: np.ndarray  # (num_steps,) training loss of every step
    metrics: dict[str, float] = field(default_factory=dict)  # {train,dev,test}_loss


def _check_finite(bad_step: Any, spec: Mapping[str, Any]) -> None:
    bad = np.asarray(bad_step)
    if (bad >= 0).any():
        step = int(bad[bad >= 0].min())
        raise NonFiniteLossError(
            f"The loss became NaN or infinite at step {step} (learning_rate "
            f"{spec['learning_rate']}); lower the learning rate."
        )


def train_run(
    spec: Mapping[str, Any],
    splits: Mapping[str, Data],
    *,
    chunk_steps: int = 10_000,
    workdir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int, np.ndarray], None] | None = None,
) -> RunResult:
    """Trains one run chunk by chunk and evaluates the splits at the end.

    With ``workdir``, the state is checkpointed after every chunk (``workdir/checkpoints``)
    and ``resume=True`` continues from the newest checkpoint; per-step randomness depends
    only on the step number, so the result is bit-identical to an uninterrupted run.
    ``on_chunk(step, chunk_losses)`` is called after each chunk (for logging).
    """
    spec = run_spec(spec)
    state = init_state(spec)
    ckpt = Checkpointer(os.path.join(workdir, "checkpoints")) if workdir is not None else None
    losses: list[np.ndarray] = []
    done = 0
    if ckpt is not None and resume and ckpt.latest_epoch() is not None:
        done, state = ckpt.restore(state)
        prev = os.path.join(workdir, "train_losses.npy")
        losses = [np.load(prev)[:done]] if os.path.exists(prev) else []
    trainers: dict[int, Any] = {}
    end = done
    bar = tqdm(total=spec["num_steps"], initial=done, disable=not progress, unit="step")
    try:
        for size in _chunks(spec["num_steps"] - done, chunk_steps):
            end += size
            if size not in trainers:
                trainers[size] = make_trainer(num_steps=size, batch_size=spec["batch_size"])
            state, chunk_losses, bad_step = trainers[size](state, splits["train"])
            _check_finite(bad_step, spec)
            chunk_losses = np.asarray(chunk_losses)
            losses.append(chunk_losses)
            if ckpt is not None:
                ckpt.save(end, state)
                np.save(os.path.join(workdir, "train_losses.npy"), np.concatenate(losses))
            if on_chunk is not None:
                on_chunk(end, chunk_losses)
            bar.update(size)
            bar.set_postfix(loss=f"{chunk_losses.mean():.3f}")
    finally:
        # Also on Ctrl-C or an error: let a started checkpoint finish, so resume finds it.
        bar.close()
        if ckpt is not None:
            ckpt.close()
    evaluate = make_split_evaluator()
    metrics = {f"{k}_loss": float(evaluate(state, splits[k])) for k in SPLITS if k in splits}
    return RunResult(dict(spec), state, np.concatenate(losses), metrics)


def expand_grid(base: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> list[dict]:
    """Every combination of ``grid``'s values over ``base`` (the last key varies fastest).

    Example:
      >>> base = {"seed": 0, "lr": 0.1}
      >>> [(c["seed"], c["lr"]) for c in expand_grid(base, {"seed": [0, 1], "lr": [1, 2]})]
      [(0, 1), (0, 2), (1, 1), (1, 2)]
    """
    unknown = sorted(set(grid) - set(base))
    if unknown:
        raise ValueError(f"The sweep varies {unknown}, which the config does not have.")
    keys = list(grid)
    combos = itertools.product(*(list(grid[k]) for k in keys))
    return [{**dict(base), **dict(zip(keys, values, strict=True))} for values in combos]


def group_by_shape(specs: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Indices of ``specs`` grouped by :data:`SHAPE_FIELDS`, in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(specs):
        groups.setdefault(tuple(s[f] for f in SHAPE_FIELDS), []).append(i)
    return list(groups.values())


def train_sweep(
    specs: Sequence[Mapping[str, Any]],
    splits_fn: SplitsFn,
    *,
    chunk_steps: int = 10_000,
    progress: bool = True,
    keep_states: bool = False,
) -> list[RunResult]:
    """Trains many runs: one vmapped, compiled program per group of equal shapes.

    ``splits_fn(block_size)`` gives the ``{"train", "dev", "test"}`` data for a context
    length. Results come back in the order of ``specs``; row ``i`` equals
    ``train_run(specs[i], ...)`` up to float rounding of the batched matmuls.
    """
    specs = [run_spec(s) for s in specs]
    results: list[RunResult | None] = [None] * len(specs)
    for group in group_by_shape(specs):
        group_specs = [specs[i] for i in group]
        first = group_specs[0]
        splits = splits_fn(first["block_size"])
        states = init_states(group_specs)
        trainers: dict[int, Any] = {}
        losses = []
        label = ", ".join(f"{f}={first[f]}" for f in SHAPE_FIELDS)
        with tqdm(total=first["num_steps"], disable=not progress, desc=label, unit="step") as bar:
            for size in _chunks(first["num_steps"], chunk_steps):
                if size not in trainers:
                    trainers[size] = make_trainer(
                        num_steps=size, batch_size=first["batch_size"], vmapped=True
                    )
                states, chunk_losses, bad_steps = trainers[size](states, splits["train"])
                losses.append(np.asarray(chunk_losses))
                bar.update(size)
        losses = np.concatenate(losses, axis=1)  # (runs, num_steps)
        bad = np.asarray(bad_steps)
        evaluate = make_split_evaluator(vmapped=True)
        split_losses = {k: np.asarray(evaluate(states, splits[k])) for k in SPLITS if k in splits}
        for j, i in enumerate(group):
            metrics = {f"{k}_loss": float(v[j]) for k, v in split_losses.items()}
            metrics["diverged_at_step"] = int(bad[j])
            state = jax.tree.map(lambda a, j=j: a[j], states) if keep_states else None
            results[i] = RunResult(specs[i], state, losses[j], metrics)
    return results  # type: ignore[return-value]


def results_table(results: Sequence[RunResult], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows ``{field: value, ..., train_loss, dev_loss, test_loss}`` for a report."""
    return [
        {**{f: r.spec[f] for f in fields}, **{k: round(v, 4) for k, v in r.metrics.items()}}
        for r in results
    ]


def write_table(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike) -> tuple[str, str]:
    """Writes ``rows`` as ``stem.md`` (a markdown table) and ``stem.csv``; returns the paths."""
    import csv

    stem = os.fspath(stem)
    header = list(rows[0])
    with open(stem + ".csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    return stem + ".md", stem + ".csv"
