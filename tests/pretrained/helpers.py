"""Random Hugging Face DistilBERT checkpoints saved to disk, and padded batches."""

from __future__ import annotations

import numpy as np

SMALL = dict(
    vocab_size=120,
    dim=32,
    n_layers=2,
    n_heads=4,
    hidden_dim=64,
    max_position_embeddings=40,
    num_labels=3,
)


def save_distilbert(folder, *, seed: int = 0, zero_biases: bool = False, **overrides):
    """Saves a random ``DistilBertForSequenceClassification`` (eager attention) to ``folder``
    and returns the PyTorch model in eval mode."""
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(seed)
    config = DistilBertConfig(**overrides, attn_implementation="eager")
    model = DistilBertForSequenceClassification(config).eval()
    with torch.no_grad():
        # Random LayerNorm affine parameters so a swapped scale and bias would show.
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
            if zero_biases and name.endswith("bias"):
                p.zero_()
    model.save_pretrained(folder)
    return model


def padded_batch(vocab: int, lengths, *, seed: int = 0):
    """``(input_ids, attention_mask)`` int numpy arrays; row ``i`` has ``lengths[i]`` real
    tokens followed by padding (id 0)."""
    rng = np.random.default_rng(seed)
    width = max(lengths)
    ids = np.zeros((len(lengths), width), np.int64)
    mask = np.zeros((len(lengths), width), np.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(1, vocab, n)
        mask[i, :n] = 1
    return ids, mask
