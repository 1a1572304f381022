"""Hugging Face ``config.json`` fields of DistilBERT and BERT onto a :class:`TransformerConfig`."""

from __future__ import annotations

from typing import Any

from jaxdl.nn.transformer import TransformerConfig

# TransformerConfig's sizes and the config.json keys that hold them, per model_type.
_SIZES = {
    "distilbert": {
        "vocab_size": "vocab_size",
        "dim": "dim",
        "n_layers": "n_layers",
        "n_heads": "n_heads",
        "hidden_dim": "hidden_dim",
        "max_position_embeddings": "max_position_embeddings",
    },
    "bert": {
        "vocab_size": "vocab_size",
        "dim": "hidden_size",
        "n_layers": "num_hidden_layers",
        "n_heads": "num_attention_heads",
        "hidden_dim": "intermediate_size",
        "max_position_embeddings": "max_position_embeddings",
    },
}


def from_hf_config(hf: dict[str, Any]) -> TransformerConfig:
    """A :class:`TransformerConfig` from a Hugging Face ``config.json`` (DistilBERT or BERT).

    Args:
      hf: the parsed ``config.json``; ``model_type`` is ``"distilbert"`` or ``"bert"``.

    Returns:
      the sizes, constants and classification-head settings of that checkpoint.

    Raises:
      ValueError: for other model types, missing sizes, or settings this encoder does not
        implement (activations other than exact GELU, relative positions). DistilBERT's
        ``sinusoidal_pos_embds`` gives ``position_embedding_type="sinusoidal"``.

    Example:
      >>> cfg = from_hf_config({"model_type": "bert", "vocab_size": 9, "hidden_size": 8,
      ...     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
      ...     "max_position_embeddings": 10})
      >>> cfg.dim, cfg.type_vocab_size, cfg.attention_output_dropout
      (8, 2, True)
    """
    kind = hf.get("model_type")
    if kind == "distilbert":
        act = hf.get("activation", "gelu")
        specific = dict(
            position_embedding_type="sinusoidal" if hf.get("sinusoidal_pos_embds") else "learned",
            eps=1e-12,  # transformers hard-codes DistilBERT's LayerNorm eps
            type_vocab_size=0,
            dropout=hf.get("dropout", 0.1),
            attention_dropout=hf.get("attention_dropout", 0.1),
            classifier_dropout=hf.get("seq_classif_dropout", 0.2),
        )
    elif kind == "bert":
        act = hf.get("hidden_act", "gelu")
        if hf.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"config has position_embedding_type={hf['position_embedding_type']!r}, "
                "expected 'absolute'."
            )
        dropout = hf.get("hidden_dropout_prob", 0.1)
        specific = dict(
            eps=hf.get("layer_norm_eps", 1e-12),
            type_vocab_size=hf.get("type_vocab_size", 2),
            dropout=dropout,
            attention_dropout=hf.get("attention_probs_dropout_prob", 0.1),
            attention_output_dropout=True,
            classifier_dropout=hf.get("classifier_dropout") or dropout,
        )
    else:
        raise ValueError(f"config has model_type={kind!r}, expected 'distilbert' or 'bert'.")
    missing = [key for key in _SIZES[kind].values() if key not in hf]
    if missing:
        raise ValueError(
            f"config has no {', '.join(missing)}, expected every size of a {kind} config "
            f"({', '.join(_SIZES[kind].values())})."
        )
    config = TransformerConfig(
        **{field: hf[key] for field, key in _SIZES[kind].items()},
        pad_token_id=hf.get("pad_token_id", 0) or 0,
        num_labels=hf.get("num_labels") or len(hf.get("id2label") or {}) or 2,
        **specific,
    )
    if act != "gelu":
        raise ValueError(f"config's activation is {act!r}, expected 'gelu' (exact, erf-based).")
    return config
