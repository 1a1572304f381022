"""Gradient x input and detachment LRP: PyTorch parity, conservation, unchanged forward."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn.transformer import LRP, Detach
from jaxdl.pretrained import from_pretrained
from jaxdl.xai import (
    attention_relevance,
    explain_logit,
    gradient_x_input,
    logit_gradient,
    resolve_detach,
)
from tests.pretrained.helpers import SMALL, padded_batch, save_distilbert

torch = pytest.importorskip("torch")
reference = pytest.importorskip("tests.xai.torch_reference")

LENGTHS = [9, 3, 17, 12]
SWITCHES = {
    "gradient_x_input": Detach(),
    "layer_norm": Detach(layer_norm=True),
    "attention": Detach(attention=True),
    "gelu": Detach(gelu=True),
    "lrp": LRP,
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = {}
    for zero in (False, True):
        folder = tmp_path_factory.mktemp("zero" if zero else "random")
        # Larger weights than BERT's 0.02 init so logits and relevances are O(1).
        hf = save_distilbert(folder, zero_biases=zero, seed=1, initializer_range=0.2, **SMALL)
        out[zero] = (hf, from_pretrained(folder))
    return out


@pytest.mark.parametrize("name", list(SWITCHES))
def test_matches_pytorch(models, name):
    hf, model = models[False]
    ids, mask = padded_batch(SMALL["vocab_size"], LENGTHS, seed=2)
    target = np.array([0, 2, 1, 2])
    ours = explain_logit(model, ids, mask, target=target, method=SWITCHES[name])
    theirs, logit = reference.relevance(hf, ids, mask, target, **SWITCHES[name]._asdict())
    np.testing.assert_allclose(np.asarray(ours.value), logit, atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.asarray(ours.relevance), theirs, atol=1e-4, rtol=0)
    assert np.abs(theirs).max() > 1e-2  # relevances large enough for 1e-4 to mean something


def test_gradient_matches_pytorch_inputs_embeds_grad(models):
    hf, model = models[False]
    ids, mask = padded_batch(SMALL["vocab_size"], LENGTHS, seed=7)
    target = np.array([1, 0, 2, 1])
    ours = logit_gradient(model, ids, mask, target=target, method="gradient_x_input")
    grad, emb = reference.gradient(hf, ids, target, mask)
    assert ours.gradient.shape == (len(LENGTHS), ids.shape[1], SMALL["dim"])
    np.testing.assert_allclose(np.asarray(ours.embeddings), emb, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(ours.gradient), grad, atol=1e-5, rtol=0)
    assert np.abs(grad).max() > 1e-2
    # explain_logit's relevance is exactly this gradient times the embeddings.
    rel = explain_logit(model, ids, mask, target=target, method="gradient_x_input")
    np.testing.assert_allclose(
        np.asarray(rel.relevance),
        np.asarray((ours.embeddings * ours.gradient).sum(-1) * mask),
        atol=1e-6,
    )
    np.testing.assert_array_equal(np.asarray(rel.value), np.asarray(ours.value))


def test_lrp_conserves_the_logit_with_zero_biases(models):
    _, model = models[True]
    ids, mask = padded_batch(SMALL["vocab_size"], LENGTHS, seed=3)
    lrp = explain_logit(model, ids, mask, method="lrp")
    total = np.asarray(lrp.relevance.sum(-1))
    value = np.asarray(lrp.value)
    assert np.abs(value).min() > 1e-2
    np.testing.assert_allclose(total, value, rtol=0.01)
    # Gradient x input does not conserve: LayerNorm is scale invariant, so its sum is ~0.
    gi = explain_logit(model, ids, mask, method="gradient_x_input")
    assert np.abs(np.asarray(gi.relevance.sum(-1)) - value).max() > 0.1 * np.abs(value).max()


@pytest.mark.parametrize("name", list(SWITCHES))
def test_detach_leaves_forward_unchanged(models, name):
    _, model = models[False]
    ids, mask = padded_batch(SMALL["vocab_size"], LENGTHS, seed=4)
    plain = model(ids, mask)
    detached = model(ids, mask, detach=SWITCHES[name])
    chex.assert_trees_all_close(detached, plain, atol=1e-6, rtol=0)


def test_batched_equals_one_by_one_and_compiles_once(models):
    _, model = models[False]
    ids, mask = padded_batch(SMALL["vocab_size"], LENGTHS, seed=5)
    batched = explain_logit(model, ids, mask, method="lrp")
    # The most padded row alone, unpadded: padding changes nothing.
    for i in (1,):
        n = LENGTHS[i]
        single = explain_logit(model, ids[i : i + 1, :n], mask[i : i + 1, :n], method="lrp")
        np.testing.assert_allclose(
            np.asarray(batched.relevance[i, :n]), np.asarray(single.relevance[0]), atol=1e-5
        )
        assert float(jnp.abs(batched.relevance[i, n:]).sum()) == 0.0
    from jaxdl.xai import relevance as module

    before = module._explain_logit._cache_size()
    explain_logit(model, ids + 1, mask, method="lrp")  # new values, same shapes: no retrace
    assert module._explain_logit._cache_size() == before


def test_attention_baseline_and_generic_gradient_x_input(models):
    _, model = models[False]
    ids, mask = padded_batch(SMALL["vocab_size"], LENGTHS, seed=6)
    att = attention_relevance(model, ids, mask)
    np.testing.assert_allclose(np.asarray(att.sum(-1)), 1.0, atol=1e-5)  # a [CLS] row
    r, v = gradient_x_input(lambda x: jnp.sum(x**2), jnp.arange(3.0))
    np.testing.assert_allclose(np.asarray(r), [0.0, 2.0, 8.0])
    assert float(v) == 5.0
    with pytest.raises(ValueError, match="method is 'saliency', expected one of"):
        resolve_detach("saliency")
    with pytest.raises(ValueError, match=r"attention_mask \(4, 2\)"):
        explain_logit(model, ids, mask[:, :2])
