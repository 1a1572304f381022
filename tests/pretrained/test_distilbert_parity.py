"""jaxdl's DistilBERT against transformers' PyTorch model on the same saved weights."""

from __future__ import annotations

import dataclasses

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


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small random checkpoint: (transformers model, jaxdl model loaded from it)."""
    folder = tmp_path_factory.mktemp("small")
    hf = save_distilbert(folder, **SMALL)
    return hf, from_pretrained(folder)


def test_hidden_states_match_transformers(small):
    hf, model = small
    ids, mask = padded_batch(SMALL["vocab_size"], [9, 3, 17, 1], seed=7)
    logits, states = model(ids, mask, output_hidden_states=True)
    with torch.no_grad():
        ref = hf(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            output_hidden_states=True,
        )
    np.testing.assert_allclose(np.asarray(logits), ref.logits.numpy(), atol=1e-4, rtol=0)
    assert len(states) == len(ref.hidden_states) == SMALL["n_layers"] + 1
    for layer, (ours, theirs) in enumerate(zip(states, ref.hidden_states, strict=True)):
        np.testing.assert_allclose(
            np.asarray(ours), theirs.numpy(), atol=1e-4, rtol=0, err_msg=f"state {layer}"
        )
    # The encoder alone, with the attention too: (last, probabilities, states).
    last, probs, enc_states = model.encoder(
        ids, mask, return_attention=True, output_hidden_states=True
    )
    assert len(probs) == SMALL["n_layers"]
    np.testing.assert_array_equal(np.asarray(enc_states[-1]), np.asarray(last))


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_padding_row_is_torch_padding_idx(small):
    """The pad token's embedding row: zero at init and no gradient, as transformers'
    ``nn.Embedding(padding_idx=pad_token_id)``."""
    import jax.numpy as jnp
    from flax import nnx

    from jaxdl.nn.transformer import Embeddings, TransformerConfig

    hf, model = small
    assert float(hf.distilbert.embeddings.word_embeddings.weight[0].detach().abs().max()) == 0.0
    ids, _ = padded_batch(SMALL["vocab_size"], [9, 3, 17, 1], seed=8)  # pads are id 0
    weights = np.random.default_rng(9).normal(size=(*ids.shape, SMALL["dim"]))

    emb = hf.distilbert.embeddings
    emb.zero_grad(set_to_none=True)
    torch_out = emb(torch.from_numpy(ids))
    (torch_out * torch.from_numpy(weights).float()).sum().backward()
    theirs = emb.word_embeddings.weight.grad.numpy()

    def loss(e):
        return jnp.sum(e(jnp.asarray(ids)) * weights)

    grads = nnx.grad(loss)(model.encoder.embeddings)
    ours = np.asarray(grads["word_embeddings"]["embedding"][...])
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-4)
    assert float(np.abs(ours[0]).max()) == 0.0 and float(np.abs(ours[1:]).max()) > 0.0

    # Fresh init: the pad row starts at zero; pad_token_id=None is an ordinary row.
    cfg = TransformerConfig(vocab_size=30, dim=8, n_layers=1, n_heads=2, hidden_dim=16)
    fresh = Embeddings(cfg, rngs=nnx.Rngs(0)).word_embeddings.embedding[...]
    assert float(jnp.abs(fresh[0]).max()) == 0.0 and float(jnp.abs(fresh[1]).max()) > 0.0
    plain = Embeddings(dataclasses.replace(cfg, pad_token_id=None), rngs=nnx.Rngs(0))
    assert float(jnp.abs(plain.word_embeddings.embedding[...][0]).max()) > 0.0
    g = nnx.grad(lambda m: jnp.sum(m(jnp.zeros((1, 3), jnp.int32)) * weights[:1, :3, :8]))(plain)
    assert float(jnp.abs(g["word_embeddings"]["embedding"][...][0]).max()) > 0.0
