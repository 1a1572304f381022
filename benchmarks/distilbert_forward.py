"""DistilBERT-base sequence classification forward (batch 8 x 128 tokens): jaxdl vs PyTorch.

jaxdl: :class:`jaxdl.nn.DistilBertClassifier` loaded with
:func:`jaxdl.pretrained.from_pretrained` from the folder the PyTorch model was saved to,
split once and run through one jitted forward (what :func:`jaxdl.xai.jit_forward` does).
Baseline: transformers' ``DistilBertForSequenceClassification`` (its default attention
implementation, SDPA) in eval mode under ``torch.inference_mode()``: the seed's way of
running the model. Same weights, same padded batch (rows of 128 down to 72 real tokens).

Run: ``python -m benchmarks.run distilbert_forward``
(or ``python -m benchmarks.distilbert_forward``).
"""

from __future__ import annotations

import tempfile
from typing import Any

import jax
import numpy as np

from benchmarks import _harness

NAME = "distilbert_forward"
METRIC = "forward ms per batch (DistilBERT-base, 8 x 128 tokens)"
UNIT = "ms"
BATCH, SEQ, REPEATS, WARMUP = 8, 128, 20, 3
QUICK = {"batch": 2, "seq": 16, "repeats": 2}


def padded_batch(batch: int, seq: int, vocab: int, *, seed: int = 0):
    """Random ids; row ``i`` has ``seq - i * seq // (2 * batch)`` real tokens then padding."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, vocab, (batch, seq)).astype(np.int64)
    mask = np.zeros((batch, seq), np.int64)
    for i in range(batch):
        n = seq - i * seq // (2 * batch)
        mask[i, :n] = 1
    ids[mask == 0] = 0
    ids[:, 0] = 101  # [CLS]
    return ids, mask


def run(
    *,
    batch_size: int | None = None,
    repeats: int = REPEATS,
    quick: bool = False,
    train_examples: int | None = None,
) -> dict[str, Any]:
    """Times both forwards interleaved and returns the result record (writes nothing).

    ``train_examples`` is accepted for ``benchmarks.run``'s common options and ignored.
    """
    del train_examples
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    from jaxdl.pretrained import from_pretrained
    from jaxdl.xai import jit_forward

    batch, seq = (batch_size or BATCH), SEQ
    if quick:
        batch, seq, repeats = QUICK["batch"], QUICK["seq"], QUICK["repeats"]
    threads = _harness.set_threads()
    torch.manual_seed(0)
    hf = DistilBertForSequenceClassification(DistilBertConfig()).eval()
    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        model = from_pretrained(folder)
    forward = jit_forward(model)
    ids, mask = padded_batch(batch, seq, hf.config.vocab_size)
    ids_j, mask_j = jax.numpy.asarray(ids, np.int32), jax.numpy.asarray(mask, np.int32)
    ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)

    def torch_forward():
        with torch.inference_mode():
            return hf(input_ids=ids_t, attention_mask=mask_t).logits

    diff = float(np.abs(np.asarray(forward(ids_j, mask_j)) - torch_forward().numpy()).max())
    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": lambda: forward(ids_j, mask_j), "torch": torch_forward},
            warmup=WARMUP,
            repeats=repeats,
        )
    ms = {k: [1e3 * t for t in v] for k, v in times.items()}
    extra = {
        "batch_size": batch,
        "seq_len": seq,
        "real_tokens": int(mask.sum()),
        "repeats": repeats,
        "warmup": WARMUP,
        "forward_ms": ms,
        "torch_attn_implementation": hf.config._attn_implementation,
        "threads_set": threads,
        "sanity": {"max_abs_logit_difference": diff},
        "quick": quick,
        "other_cpu_load": other.cores,
        "flops": _harness.flops_record(
            _harness.step_cost(forward, ids_j, mask_j), 1, _harness.median(times["jaxdl"])
        ),
    }
    return _harness.result_record(
        NAME,
        METRIC,
        _harness.median(ms["jaxdl"]),
        _harness.median(ms["torch"]),
        UNIT,
        extra,
        higher_is_better=False,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
