"""KV-cache sampling against full recomputation: 1,000 names of up to 32 characters.

Both samplers are jaxdl's :func:`~jaxdl.charlm.sample_cached` (``use_cache`` True and
False), jitted, on the makemore transformer's sizes (``configs/transformer.py``: 4
blocks, 64 wide, 4 heads) with a 32-position table and random weights, so that most rows
run the full 32 characters. The benchmark first checks that both give the same tokens.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from flax import nnx

from benchmarks import _flops, _harness
from jaxdl.charlm import sample_cached
from jaxdl.nn.char_lm import CharGPT

NAME = "gpt_sampling"
NUM_SAMPLES, MAX_LENGTH = 1000, 32


def run(*, repeats: int = 5, quick: bool = False, **_: Any) -> dict[str, Any]:
    load_before = list(os.getloadavg())
    repeats = 1 if quick else repeats
    num = 50 if quick else NUM_SAMPLES
    model = CharGPT(block_size=MAX_LENGTH, n_embd=64, n_hidden=256, rngs=nnx.Rngs(0))
    key = jax.random.key(0)

    def draw(use_cache: bool):
        return sample_cached(
            model, key=key, num_samples=num, max_length=MAX_LENGTH, use_cache=use_cache
        )

    cached, full = np.asarray(draw(True)), np.asarray(draw(False))  # also compiles both
    if not np.array_equal(cached, full):
        raise RuntimeError("cached and full-recomputation samples differ; not timing.")
    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": lambda: draw(True), "baseline": lambda: draw(False)},
            warmup=1,
            repeats=repeats,
        )
    lengths = (cached != 0).sum(axis=1) + 1  # characters per row, the closing '.' included
    extra = {
        "num_samples": num,
        "max_length": MAX_LENGTH,
        "mean_length": float(lengths.mean()),
        "call_seconds": times,
        "repeats": repeats,
        "sanity": {"same_tokens": True},
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # The cached sampler's scan over positions: every row runs all of them.
        "flops": _flops.program_record(
            _flops.program_cost(
                lambda k: sample_cached(
                    model, key=k, num_samples=num, max_length=MAX_LENGTH, use_cache=True
                ),
                key,
            ),
            _harness.median(times["jaxdl"]),
        ),
    }
    return _harness.result_record(
        NAME,
        f"seconds to sample {num} names of up to {MAX_LENGTH} characters "
        "(baseline: the same sampler recomputing the prefix every step)",
        _harness.median(times["jaxdl"]),
        _harness.median(times["baseline"]),
        "s",
        extra,
        higher_is_better=False,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
