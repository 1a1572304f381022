"""Loading what was trained, for inference: a model's weights from a run's checkpoint
(no optimiser needed), and an export in the Hugging Face layout (``config.json`` +
``model.safetensors``) that loads back bit for bit.

Both fill a model built the usual way (the same constructor and config), so that no
pickled code is ever read: the module structure comes from your code, the arrays from
the files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from etils import epath
from flax import nnx, struct

from jaxdl.errors import CheckpointMismatchError
from jaxdl.training.checkpoint import Checkpointer, is_prng_key, path_keys, raw

WEIGHTS, CONFIG = "model.safetensors", "config.json"


class _Weights(struct.PyTreeNode):
    """The parts of a :class:`~jaxdl.training.TrainState` a model needs, under the same
    names, so their paths match the checkpoint's."""

    params: Any
    model_state: Any


def restore_weights(
    model: nnx.Module, directory: str | os.PathLike, *, step: int | None = None
) -> int:
    """Fills ``model`` (in place) with the parameters and other variables (BatchNorm
    statistics, ...) of a checkpoint written by :func:`~jaxdl.training.fit` or
    :class:`~jaxdl.training.Checkpointer`; the optimiser state is not needed.

    Args:
      model: the model as the run built it (same constructor and config); its values
        are replaced.
      directory: a checkpoint folder, or a workdir (its ``checkpoints/`` is read).
      step: which checkpoint (its key); ``None`` is the newest readable one.

    Returns:
      The key (epoch or step) of the checkpoint read.

    Raises:
      FileNotFoundError: there is no checkpoint.
      CheckpointMismatchError: the checkpoint was written for another model.

    Example:
      >>> import tempfile, jax, optax
      >>> from flax import nnx
      >>> from jaxdl.training import Checkpointer, TrainState
      >>> trained = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
      >>> folder = tempfile.mkdtemp()
      >>> ckpt = Checkpointer(folder)
      >>> ckpt.save(7, TrainState.create(trained, optax.adam(1e-3), key=jax.random.key(0)))
      >>> ckpt.close()
      >>> fresh = nnx.Linear(2, 3, rngs=nnx.Rngs(1))
      >>> restore_weights(fresh, folder)
      7
      >>> bool((fresh.kernel[...] == trained.kernel[...]).all())
      True
    """
    folder = epath.Path(directory)
    if (folder / "checkpoints").is_dir():
        folder = folder / "checkpoints"
    _, params, model_state = nnx.split(model, nnx.Param, ...)
    ckpt = Checkpointer(folder)
    try:
        if ckpt.latest_step() is None:
            raise FileNotFoundError(f"There is no checkpoint in {folder}.")
        key, weights = ckpt.restore(_Weights(params, model_state), step)
    finally:
        ckpt.close()
    nnx.update(model, weights.params, weights.model_state)
    return key


def export_model(
    model: nnx.Module, directory: str | os.PathLike, *, config: Mapping[str, Any] | None = None
) -> None:
    """Writes ``model``'s variables to ``directory/model.safetensors`` (one tensor per
    variable, named by its dotted path: ``conv1.kernel``, ``bn.mean``; PRNG keys as their
    raw ``uint32`` data) and ``config`` to ``directory/config.json``.

    Args:
      model: any NNX module.
      directory: the folder (created if missing).
      config: JSON-ready description of how to rebuild the model; stored as it is.

    Example:
      >>> import tempfile
      >>> from flax import nnx
      >>> folder = tempfile.mkdtemp()
      >>> export_model(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), folder, config={"features": 3})
      >>> sorted(p.name for p in epath.Path(folder).iterdir())
      ['config.json', 'model.safetensors']
    """
    from safetensors.numpy import save_file

    folder = epath.Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: np.asarray(raw(x)) for name, x in _named_leaves(nnx.state(model))}
    # Written aside and renamed, so a folder never holds half a file.
    tmp = folder / f".{WEIGHTS}.tmp"
    save_file(tensors, os.fspath(tmp), metadata={"format": "jaxdl"})
    tmp.rename(folder / WEIGHTS)
    if config is not None:
        tmp = folder / f".{CONFIG}.tmp"
        tmp.write_text(json.dumps(dict(config), indent=2, sort_keys=True) + "\n")
        tmp.rename(folder / CONFIG)


def load_exported(model: nnx.Module, directory: str | os.PathLike) -> dict[str, Any] | None:
    """Fills ``model`` (in place) from a folder :func:`export_model` wrote; returns its
    ``config.json`` (``None`` when there is none).

    Raises:
      FileNotFoundError: ``directory`` has no ``model.safetensors``.
      CheckpointMismatchError: a variable of ``model`` is missing from the file or has
        another shape.

    Example:
      >>> import tempfile
      >>> from flax import nnx
      >>> folder = tempfile.mkdtemp()
      >>> trained = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
      >>> export_model(trained, folder, config={"features": 3})
      >>> fresh = nnx.Linear(2, 3, rngs=nnx.Rngs(1))
      >>> load_exported(fresh, folder)
      {'features': 3}
      >>> bool((fresh.kernel[...] == trained.kernel[...]).all())
      True
    """
    from safetensors.numpy import load_file

    folder = epath.Path(directory)
    if not (folder / WEIGHTS).is_file():
        raise FileNotFoundError(f"{folder} has no {WEIGHTS}.")
    tensors = load_file(os.fspath(folder / WEIGHTS))
    state = nnx.state(model)
    paths, treedef = jax.tree_util.tree_flatten_with_path(state)
    leaves = []
    for path, like in paths:
        name = _name(path)
        if name not in tensors:
            raise CheckpointMismatchError(f"{folder / WEIGHTS} has no {name}.")
        value, stored = tensors[name], raw(like)
        if value.shape != stored.shape:
            raise CheckpointMismatchError(
                f"{folder / WEIGHTS}'s {name} has shape {value.shape}, expected {stored.shape}."
            )
        value = jax.numpy.asarray(value, stored.dtype)
        if is_prng_key(like):
            value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
        leaves.append(value)
    nnx.update(model, jax.tree_util.tree_unflatten(treedef, leaves))
    config = folder / CONFIG
    return json.loads(config.read_text()) if config.is_file() else None


def _named_leaves(state: Any) -> list[tuple[str, Any]]:
    return [(_name(p), x) for p, x in jax.tree_util.tree_flatten_with_path(state)[0]]


def _name(path: tuple) -> str:
    return ".".join(path_keys(path))
