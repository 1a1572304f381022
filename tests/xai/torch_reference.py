"""Gradient x input and detachment LRP written in PyTorch on transformers' DistilBERT.

Independent of jaxdl's code: the Hugging Face model itself, with the seed's recipe (the
embedding module replaced by a pass-through so gradients are taken w.r.t. its output)
and the three detachment rules patched into its modules.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask


class PassEmbeddings(nn.Module):
    """Stands in for DistilBERT's embedding module: ``inputs_embeds`` are already embedded."""

    def forward(self, input_ids=None, inputs_embeds=None, position_ids=None):
        return inputs_embeds


class DetachedLayerNorm(nn.Module):
    """``(x - mean) / std.detach() * w + b`` with the biased variance LayerNorm uses."""

    def __init__(self, ln: nn.LayerNorm):
        super().__init__()
        self.weight, self.bias, self.eps = ln.weight, ln.bias, ln.eps

    def forward(self, x):
        centred = x - x.mean(-1, keepdim=True)
        std = torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps)
        return centred / std.detach() * self.weight + self.bias


class DetachedGELU(nn.Module):
    def forward(self, x):
        return x * (0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))).detach()


def detached_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
    """Eager attention whose probabilities are detached before they mix the values."""
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs.detach(), value).transpose(1, 2).contiguous()
    return out, probs


AttentionInterface.register("detached_for_tests", detached_attention)
# Without a registered mask function transformers passes no padding mask at all.
AttentionMaskInterface.register("detached_for_tests", eager_mask)


def relevance(hf_model, ids, mask, target, *, layer_norm=False, attention=False, gelu=False):
    """``(relevance (B, T), logit (B,))`` as numpy; the model is copied, not modified."""
    model = copy.deepcopy(hf_model).eval()
    embed = model.distilbert.embeddings
    model.distilbert.embeddings = PassEmbeddings()
    for block in model.distilbert.transformer.layer:
        if layer_norm:
            block.sa_layer_norm = DetachedLayerNorm(block.sa_layer_norm)
            block.output_layer_norm = DetachedLayerNorm(block.output_layer_norm)
        if gelu:
            block.ffn.activation = DetachedGELU()
    if attention:
        model.set_attn_implementation("detached_for_tests")
    ids, mask = torch.from_numpy(np.asarray(ids)).long(), torch.from_numpy(np.asarray(mask))
    emb = embed(ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=emb, attention_mask=mask.long()).logits
    chosen = logits[torch.arange(len(ids)), torch.as_tensor(np.asarray(target)).long()]
    # Examples do not interact, so one backward of the sum gives every example's gradient.
    chosen.sum().backward()
    rel = (emb * emb.grad).sum(-1) * mask
    return rel.detach().numpy(), chosen.detach().numpy()


def gradient(hf_model, ids, target, mask, **switches):
    """``d logit / d inputs_embeds (B, T, D)`` and the embeddings, as numpy."""
    model = copy.deepcopy(hf_model).eval()
    ids, mask_t = torch.from_numpy(np.asarray(ids)).long(), torch.from_numpy(np.asarray(mask))
    emb = model.distilbert.embeddings(ids).detach().requires_grad_(True)
    model.distilbert.embeddings = PassEmbeddings()
    logits = model(inputs_embeds=emb, attention_mask=mask_t.long()).logits
    logits[torch.arange(len(ids)), torch.as_tensor(np.asarray(target)).long()].sum().backward()
    return emb.grad.numpy(), emb.detach().numpy()
