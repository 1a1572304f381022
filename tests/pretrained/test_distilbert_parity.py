"""jaxdl's DistilBERT against transformers' PyTorch model on the same saved weights."""

from __future__ import annotations

import numpy as np
import pytest

from jaxdl.nn import DistilBertClassifier
from jaxdl.pretrained import from_pretrained
from tests.pretrained.helpers import SMALL, padded_batch, save_distilbert

torch = pytest.importorskip("torch")


def _compare(folder, hf_model, vocab, lengths):
    model = from_pretrained(folder)
    assert isinstance(model, DistilBertClassifier)
    ids, mask = padded_batch(vocab, lengths)
    logits, probs = model(ids, mask, return_attention=True)
    with torch.no_grad():
        ref = hf_model(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            output_attentions=True,
        )
    np.testing.assert_allclose(np.asarray(logits), ref.logits.numpy(), atol=1e-4, rtol=0)
    assert len(probs) == len(ref.attentions)
    for layer, (ours, theirs) in enumerate(zip(probs, ref.attentions, strict=True)):
        # Every query row, padded ones included: transformers computes them too.
        np.testing.assert_allclose(
            np.asarray(ours), theirs.numpy(), atol=1e-4, rtol=0, err_msg=f"layer {layer}"
        )
    # The padding really is masked: no probability lands on a padded key.
    padded_keys = np.broadcast_to(mask[:, None, None, :] == 0, probs[0].shape)
    assert float(np.abs(np.asarray(probs[0])[padded_keys]).max()) == 0.0


def test_small_config_padded_batch(tmp_path):
    hf = save_distilbert(tmp_path, **SMALL)
    _compare(tmp_path, hf, SMALL["vocab_size"], [9, 3, 17, 1])


def test_default_size_padded_batch(tmp_path):
    # DistilBERT-base (66M parameters), randomly initialised: no download.
    hf = save_distilbert(tmp_path)
    _compare(tmp_path, hf, hf.config.vocab_size, [24, 7, 16])


def test_sinusoidal_positions_encoder_output(tmp_path):
    # DistilBERT with sinusoidal_pos_embds: transformers stores the fixed table, jaxdl
    # computes it (and checks the stored one on load).
    hf = save_distilbert(tmp_path, sinusoidal_pos_embds=True, **SMALL)
    model = from_pretrained(tmp_path)
    assert model.config.position_embedding_type == "sinusoidal"
    assert model.encoder.embeddings.position_embeddings is None
    ids, mask = padded_batch(SMALL["vocab_size"], [9, 3, 40, 1])
    hidden = model.encoder(ids, mask)
    with torch.no_grad():
        ref = hf.distilbert(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    theirs = ref.last_hidden_state.numpy()
    np.testing.assert_allclose(np.asarray(hidden), theirs, atol=1e-5, rtol=0)
    # The stored table is the formula's, not a random one that happened to load.
    table = hf.distilbert.embeddings.position_embeddings.weight.detach().numpy()
    assert np.abs(table[1:, 0] - np.sin(np.arange(1, 40))).max() < 1e-6
    _compare(tmp_path, hf, SMALL["vocab_size"], [9, 3, 17, 1])
