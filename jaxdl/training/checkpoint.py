"""Orbax checkpoints of a :class:`TrainState` plus the epoch it ended."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxdl.errors import CheckpointMismatchError
from jaxdl.training.state import TrainState


def _flat(state: TrainState) -> dict[str, Any]:
    """``{path: array}``; typed PRNG keys become their raw ``uint32`` data."""
    tree = {
        "params": state.params,
        "model_state": state.model_state,
        "opt_state": state.opt_state,
        "step": state.step,
        "key": jax.random.key_data(state.key),
        "loss_scale": state.loss_scale,
    }
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): leaf for path, leaf in leaves}


def _unflat(template: TrainState, flat: dict[str, Any]) -> TrainState:
    """Inverse of :func:`_flat`, shaped like ``template`` (a freshly built state)."""
    tree = {
        "params": template.params,
        "model_state": template.model_state,
        "opt_state": template.opt_state,
        "step": template.step,
        "key": jax.random.key_data(template.key),
        "loss_scale": template.loss_scale,
    }
    paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    missing = [jax.tree_util.keystr(p) for p, _ in paths if jax.tree_util.keystr(p) not in flat]
    if missing:
        raise CheckpointMismatchError(
            f"The checkpoint has no {missing[0]} (and {len(missing) - 1} more); it was written "
            "by a different model or optimiser. Use a fresh --workdir or the config it used."
        )
    leaves = []
    for path, like in paths:
        value = np.asarray(flat[jax.tree_util.keystr(path)])
        if value.shape != like.shape:
            raise CheckpointMismatchError(
                f"The checkpoint's {jax.tree_util.keystr(path)} has shape {value.shape}, expected "
                f"{like.shape}; it was written with another config. Use a fresh --workdir."
            )
        leaves.append(jax.numpy.asarray(value, like.dtype))
    tree = jax.tree_util.tree_unflatten(treedef, leaves)
    return template.replace(
        params=tree["params"],
        model_state=tree["model_state"],
        opt_state=tree["opt_state"],
        step=tree["step"],
        key=jax.random.wrap_key_data(tree["key"], impl=jax.random.key_impl(template.key)),
        loss_scale=tree["loss_scale"],
    )


class Checkpointer:
    """Saves a :class:`TrainState` each epoch, keeping the newest ``max_to_keep``.

    Orbax writes into a temporary folder and renames it when complete, so a run killed
    mid-save leaves the previous checkpoint intact; the half-written folder is removed
    the next time a manager opens the directory.

    Args:
      directory: the checkpoint folder (created if missing).
      max_to_keep: how many of the newest checkpoints stay on disk.
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int = 3):
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, cleanup_tmp_directories=True
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_epoch(self) -> int | None:
        """The newest complete epoch on disk, or ``None``."""
        return self.manager.latest_step()

    def save(self, epoch: int, state: TrainState) -> None:
        """Starts writing ``state`` as ``epoch`` (asynchronously; see :meth:`wait`)."""
        self.manager.save(epoch, args=ocp.args.StandardSave(_flat(state)))

    def restore(self, template: TrainState, epoch: int | None = None) -> tuple[int, TrainState]:
        """Restores ``epoch`` (default: the newest) into the structure of ``template``.

        Args:
          template: a freshly built state of the same model and optimiser; its
            structure, shapes and dtypes are the target.
          epoch: which checkpoint; ``None`` is the newest.

        Returns:
          ``(epoch, state)``.

        Raises:
          FileNotFoundError: there is no checkpoint.
          CheckpointMismatchError: the checkpoint has other leaves or shapes.
        """
        epoch = self.latest_epoch() if epoch is None else epoch
        if epoch is None:
            raise FileNotFoundError(f"There is no checkpoint in {self.directory} to resume from.")
        flat = self.manager.restore(epoch, args=ocp.args.StandardRestore(None))
        return epoch, _unflat(template, flat)

    def wait(self) -> None:
        """Blocks until pending saves are on disk."""
        self.manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        self.manager.wait_until_finished()
        self.manager.close()
