"""The DistilBERT forward benchmark's inputs and registration (the timed run is too heavy)."""

from __future__ import annotations

from benchmarks import distilbert_forward, run


def test_registered_and_padded_batch():
    assert distilbert_forward.NAME in run.BENCHMARKS
    ids, mask = distilbert_forward.padded_batch(8, 128, 30522)
    assert ids.shape == mask.shape == (8, 128)
    assert mask.sum(1).tolist() == [128, 120, 112, 104, 96, 88, 80, 72]
    assert (ids[mask == 0] == 0).all() and (ids[:, 0] == 101).all()
