"""Hugging Face GPT-2 (``GPT2LMHeadModel`` / ``GPT2Model``) onto :class:`jaxdl.nn.decoder.GPT`.

GPT-2's ``Conv1D`` layers store their weight as ``(in, out)``, which is already
``nnx.Linear``'s kernel layout: unlike ``torch.nn.Linear`` nothing is transposed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxdl.nn.decoder import GPTConfig
from jaxdl.pretrained._mapping import COPY

# transformers' names for the tanh-approximated GELU that GPT-2 uses.
_ACTIVATIONS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
_SIZES = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")


def gpt2_config(hf: dict[str, Any]) -> GPTConfig:
    """A :class:`~jaxdl.nn.decoder.GPTConfig` from a GPT-2 ``config.json``.

    Raises:
      ValueError: a size is missing, or a setting this decoder does not implement
        (another activation, unscaled or layer-scaled attention).

    Example:
      >>> gpt2_config({"model_type": "gpt2", "vocab_size": 9, "n_positions": 8, "n_embd": 8,
      ...     "n_layer": 1, "n_head": 2}).d_inner
      32
    """
    missing = [k for k in _SIZES if k not in hf]
    if missing:
        raise ValueError(
            f"config has no {', '.join(missing)}, expected every size of a gpt2 config "
            f"({', '.join(_SIZES)})."
        )
    act = hf.get("activation_function", "gelu_new")
    if act not in _ACTIVATIONS:
        raise ValueError(
            f"config's activation_function is {act!r}, expected one of {_ACTIVATIONS}."
        )
    for key, expected in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False)):
        if hf.get(key, expected) != expected:
            raise ValueError(f"config has {key}={hf[key]}, expected {expected}.")
    return GPTConfig(
        **{k: hf[k] for k in _SIZES},
        n_inner=hf.get("n_inner") or 0,
        layer_norm_epsilon=hf.get("layer_norm_epsilon", 1e-5),
    )


def gpt2_names(config: GPTConfig) -> dict[str, tuple[tuple, str]]:
    """``{hf_name: (nnx_path, kind)}`` for a ``GPT2LMHeadModel`` (``transformer.`` prefix)."""
    items = [
        ("transformer.wte.weight", ("wte", "embedding")),
        ("transformer.wpe.weight", ("wpe", "embedding")),
        ("transformer.ln_f.weight", ("ln_f", "scale")),
        ("transformer.ln_f.bias", ("ln_f", "bias")),
    ]
    for i in range(config.n_layer):
        hf = f"transformer.h.{i}"
        for ln in ("ln_1", "ln_2"):
            items += [(f"{hf}.{ln}.weight", ("h", i, ln, "scale"))]
            items += [(f"{hf}.{ln}.bias", ("h", i, ln, "bias"))]
        for layer in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            path = ("h", i, *layer.split("."))
            items += [(f"{hf}.{layer}.weight", (*path, "kernel"))]
            items += [(f"{hf}.{layer}.bias", (*path, "bias"))]
    return {name: (path, COPY) for name, path in items}


def normalise_gpt2(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A bare ``GPT2Model``'s names get the ``transformer.`` prefix; the LM head (tied to
    ``wte``, so saved files usually omit it) and the causal-mask buffers are dropped.

    Raises:
      ValueError: an ``lm_head.weight`` that differs from ``wte``: an untied head, which
        this decoder does not have.
    """
    bare = not any(k.startswith("transformer.") for k in tensors)
    out = {}
    for name, value in tensors.items():
        if bare and name != "lm_head.weight":
            name = "transformer." + name
        if name.endswith((".attn.bias", ".attn.masked_bias")) and np.ndim(value) != 1:
            continue  # old transformers saved the causal mask as a buffer
        out[name] = value
    head = out.pop("lm_head.weight", None)
    wte = out.get("transformer.wte.weight")
    if head is not None and wte is not None and not np.array_equal(head, wte):
        raise ValueError("lm_head.weight differs from transformer.wte.weight, expected them tied.")
    return out
