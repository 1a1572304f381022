"""A trained recipe's model for inference, in one call: ``load_run(workdir)`` (or of a
folder :func:`export_run` wrote) returns ``(model, config)``, no optimiser built.

From the command line (``python -m train.loading`` in a checkout, ``python -m
jaxdl.recipes.loading`` with the wheel)::

    python -m train.loading runs/fashion_mnist exported/fashion_mnist

writes ``exported/fashion_mnist/{config.json,model.safetensors}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

import jax
import ml_collections
from etils import epath
from flax import nnx

from jaxdl.training import saved
from jaxdl.training.workdir import RECORD

from .cli_config import ConfigError


def load_run(path: str | os.PathLike) -> tuple[nnx.Module, ml_collections.ConfigDict]:
    """The model a recipe trained in workdir ``path`` (its newest readable checkpoint),
    or the one :func:`export_run` wrote to folder ``path``, with the run's config.

    The model is rebuilt by the recipe's ``build_model(config, key=...)`` and then
    filled with the stored arrays, so it is exactly the trained one (in training mode,
    as NNX builds it: call ``model.eval()`` before predicting with dropout or
    BatchNorm).

    Raises:
      FileNotFoundError: ``path`` holds neither a run nor an export.
      ConfigError: the recipe has no ``build_model`` (it trains more than one model, or
        none that this call can rebuild).
    """
    model, config, _ = _load(epath.Path(path))
    return model, config


def export_run(workdir: str | os.PathLike, directory: str | os.PathLike) -> None:
    """Writes the model of run ``workdir`` to ``directory`` as ``config.json`` (the
    recipe and its config) and ``model.safetensors``; :func:`load_run` reads it back."""
    model, config, recipe = _load(epath.Path(workdir))
    saved.export_model(model, directory, config={"recipe": recipe, "config": config.to_dict()})


def _load(folder: epath.Path) -> tuple[nnx.Module, ml_collections.ConfigDict, str]:
    """:func:`load_run` and the recipe's name, each file read once."""
    exported = folder / saved.CONFIG
    if (folder / saved.WEIGHTS).is_file() and exported.is_file():
        record = json.loads(exported.read_text())
        model, config = _build(record)
        saved.load_exported(model, folder)
        return model, config, record["recipe"]
    if not (folder / RECORD).is_file():
        raise FileNotFoundError(
            f"{folder} holds neither a run ({RECORD}) nor an export "
            f"({saved.CONFIG} + {saved.WEIGHTS})."
        )
    record = json.loads((folder / RECORD).read_text())
    model, config = _build(record)
    saved.restore_weights(model, folder)
    return model, config, record["recipe"]


def _build(record: dict[str, Any]) -> tuple[nnx.Module, ml_collections.ConfigDict]:
    recipe = record["recipe"]
    module = importlib.import_module(f"{__package__}.{recipe}.train")
    if not hasattr(module, "build_model"):
        raise ConfigError(
            f"Recipe {recipe} has no build_model, so its model cannot be rebuilt; restore its "
            "checkpoint with jaxdl.training.restore_weights into the model you build."
        )
    config = ml_collections.ConfigDict(record["config"])
    # Every stored array replaces its initial value; the key only has to be valid.
    return module.build_model(config, key=jax.random.key(0)), config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.loading",
        description="Export a trained run's model as config.json + model.safetensors.",
    )
    parser.add_argument("workdir", help="the run's workdir")
    parser.add_argument("directory", help="where to write the export")
    args = parser.parse_args(argv)
    try:
        export_run(args.workdir, args.directory)
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {epath.Path(args.directory) / saved.WEIGHTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
