"""jaxdl's GPT decoder against transformers' GPT2LMHeadModel on the same saved weights."""

from __future__ import annotations

import numpy as np
import pytest

from jaxdl.nn.decoder import GPT, causal_mask
from jaxdl.pretrained import from_pretrained

torch = pytest.importorskip("torch")

TINY = dict(vocab_size=50, n_positions=24, n_embd=32, n_layer=2, n_head=4)


def _save_gpt2(folder, *, seed: int = 0, **sizes):
    """A random ``GPT2LMHeadModel`` (eager attention, random LayerNorms) saved to ``folder``."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(**sizes, attn_implementation="eager")
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln_" in name:  # random affine parameters so a swapped scale/bias would show
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
            elif name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.02)  # GPT-2 starts them at 0
    model.save_pretrained(folder)
    return model


def _ids(batch, seq, vocab, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, (batch, seq)).astype(np.int64)


@pytest.mark.parametrize("n_inner", [None, 48])
def test_whole_model_logits_match(tmp_path, n_inner):
    hf = _save_gpt2(tmp_path, n_inner=n_inner, **TINY)
    model = from_pretrained(tmp_path)
    assert isinstance(model, GPT)
    ids = _ids(3, TINY["n_positions"], TINY["vocab_size"])
    with torch.no_grad():
        ref = hf(input_ids=torch.from_numpy(ids)).logits.numpy()
    ours = np.asarray(model(ids.astype(np.int32)))
    assert np.abs(ref).max() > 0.1  # not a trivially small output
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)


def test_decoder_block_matches(tmp_path):
    hf = _save_gpt2(tmp_path, **TINY)
    model = from_pretrained(tmp_path)
    x = np.random.default_rng(1).normal(size=(2, 10, TINY["n_embd"])).astype(np.float32)
    # transformers builds the causal mask at the model level; a block alone gets it as an
    # additive (B, 1, T, T) mask.
    additive = np.where(np.tril(np.ones((10, 10), bool)), 0.0, np.finfo(np.float32).min)
    additive = torch.from_numpy(np.broadcast_to(additive, (2, 1, 10, 10)).astype(np.float32))
    for i in range(TINY["n_layer"]):
        with torch.no_grad():
            ref = hf.transformer.h[i](torch.from_numpy(x), attention_mask=additive)
        ref = (ref[0] if isinstance(ref, tuple) else ref).numpy()
        ours = np.asarray(model.h[i](x, causal_mask(None, 10)))
        np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0, err_msg=f"block {i}")


def test_bare_gpt2_model_loads_with_the_tied_head(tmp_path):
    from transformers import GPT2Config, GPT2Model

    hf = _save_gpt2(tmp_path / "lm", **TINY)
    GPT2Model(GPT2Config(**TINY)).eval()  # the bare model's names lack the prefix
    bare = hf.transformer
    bare.save_pretrained(tmp_path / "bare")
    model = from_pretrained(tmp_path / "bare")
    ids = _ids(2, 7, TINY["vocab_size"], seed=2)
    with torch.no_grad():
        ref = hf(input_ids=torch.from_numpy(ids)).logits.numpy()
    np.testing.assert_allclose(np.asarray(model(ids.astype(np.int32))), ref, atol=1e-4, rtol=0)


def test_unsupported_gpt2_settings_are_refused(tmp_path):
    from jaxdl.pretrained import gpt2_config

    base = {"model_type": "gpt2", **TINY}
    with pytest.raises(ValueError, match="activation_function is 'relu'"):
        gpt2_config({**base, "activation_function": "relu"})
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx=True"):
        gpt2_config({**base, "scale_attn_by_inverse_layer_idx": True})
    with pytest.raises(ValueError, match="no n_head"):
        gpt2_config({k: v for k, v in base.items() if k != "n_head"})
