"""Training on batches generated on the device (synthetic tasks, sampled episodes)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from tqdm.auto import tqdm

from jaxdl.training.state import TrainState
from jaxdl.training.step import LossFn, train_step

BatchFn = Callable[[jax.Array], Mapping[str, jax.Array]]


def train_generated(
    state: TrainState,
    batch_fn: BatchFn,
    *,
    loss_fn: LossFn,
    num_steps: int,
    chunk_steps: int,
    evaluate: Callable[[TrainState], Mapping[str, Any]] | None = None,
    progress: bool = True,
    desc: str | None = None,
    on_chunk: Callable[[dict[str, float]], None] | None = None,
) -> tuple[TrainState, list[dict[str, float]]]:
    """``num_steps`` steps on ``batch_fn(state.step_key())``, ``chunk_steps`` per compiled
    ``lax.scan``; the state is donated from chunk to chunk.

    After each chunk a record ``{"step", "train_loss", "test_<name>": ...}`` (the mean
    training loss of the chunk and ``evaluate(state)``'s metrics) is appended to the
    history, passed to ``on_chunk`` and shown on the progress bar.

    Returns ``(state, history)``.
    """

    @functools.partial(jax.jit, static_argnums=1, donate_argnums=0)
    def chunk(state: TrainState, length: int):
        def one(state, _):
            state, metrics = train_step(state, batch_fn(state.step_key()), loss_fn=loss_fn)
            return state, metrics["loss"]

        return jax.lax.scan(one, state, None, length=length)

    history: list[dict[str, float]] = []
    done = 0
    with tqdm(total=num_steps, desc=desc, disable=not progress) as bar:
        while done < num_steps:
            length = min(chunk_steps, num_steps - done)
            state, losses = chunk(state, length)
            done += length
            record = {"step": done, "train_loss": float(jnp.mean(losses))}
            if evaluate is not None:
                record |= {f"test_{k}": float(v) for k, v in evaluate(state).items()}
            history.append(record)
            if on_chunk:
                on_chunk(record)
            bar.update(length)
            bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k != "step"})
    return state, history
