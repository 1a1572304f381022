"""Hugging Face config.json fields onto TransformerConfig: sizes, constants, refusals."""

from __future__ import annotations

import pytest

from jaxdl.pretrained import from_hf_config


def test_hf_configs():
    bert = from_hf_config(
        dict(
            model_type="bert",
            vocab_size=9,
            hidden_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            max_position_embeddings=10,
            layer_norm_eps=1e-7,
            type_vocab_size=2,
        )
    )
    assert (bert.dim, bert.eps, bert.type_vocab_size, bert.attention_output_dropout) == (
        8,
        1e-7,
        2,
        True,
    )
    distilbert = dict(
        model_type="distilbert",
        vocab_size=9,
        dim=8,
        n_layers=1,
        n_heads=2,
        hidden_dim=16,
        max_position_embeddings=10,
    )
    assert from_hf_config(distilbert).position_embedding_type == "learned"
    sinusoidal = from_hf_config({**distilbert, "sinusoidal_pos_embds": True})
    assert sinusoidal.position_embedding_type == "sinusoidal"
    assert bert.position_embedding_type == "learned"
    with pytest.raises(ValueError, match="activation is 'relu', expected 'gelu'"):
        from_hf_config(
            dict(
                model_type="distilbert",
                activation="relu",
                vocab_size=9,
                dim=8,
                n_layers=1,
                n_heads=2,
                hidden_dim=16,
                max_position_embeddings=10,
            )
        )
