"""Orbax checkpoints of a :class:`~jaxdl.training.TrainState` (or any pytree of arrays)
by epoch."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxdl.errors import CheckpointMismatchError


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _flat(state: Any) -> dict[str, Any]:
    """``{path: array}`` of every leaf of ``state`` (a :class:`~jaxdl.training.TrainState`
    or any pytree of arrays); typed PRNG keys become their raw ``uint32`` data."""
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return {
        jax.tree_util.keystr(path): jax.random.key_data(x) if _is_key(x) else x
        for path, x in leaves
    }


def _unflat(template: Any, flat: dict[str, Any]) -> Any:
    """Inverse of :func:`_flat`, shaped like ``template`` (a freshly built state)."""
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    missing = [jax.tree_util.keystr(p) for p, _ in paths if jax.tree_util.keystr(p) not in flat]
    if missing:
        raise CheckpointMismatchError(
            f"The checkpoint has no {missing[0]} (and {len(missing) - 1} more); it was written "
            "by a different model or optimiser. Use a fresh --workdir or the config it used."
        )
    leaves = []
    for path, like in paths:
        name = jax.tree_util.keystr(path)
        value = np.asarray(flat[name])
        raw = jax.random.key_data(like) if _is_key(like) else like
        if value.shape != raw.shape:
            raise CheckpointMismatchError(
                f"The checkpoint's {name} has shape {value.shape}, expected {raw.shape}; it "
                "was written with another config. Use a fresh --workdir."
            )
        value = jax.numpy.asarray(value, raw.dtype)
        if _is_key(like):
            value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
        leaves.append(value)
    return jax.tree_util.tree_unflatten(treedef, leaves)


class Checkpointer:
    """Saves a :class:`~jaxdl.training.TrainState` (or any pytree of arrays) each epoch,
    keeping the newest ``max_to_keep``.

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

    def save(self, epoch: int, state: Any) -> None:
        """Starts writing ``state`` as ``epoch`` (asynchronously; see :meth:`wait`)."""
        self.manager.save(epoch, args=ocp.args.StandardSave(_flat(state)))

    def restore(self, template: Any, epoch: int | None = None) -> tuple[int, Any]:
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
