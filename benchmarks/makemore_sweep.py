"""makemore sweep: 16 runs in one vmapped program vs 16 separate runs, compilation included.

Both sides train the ``sweep`` config's 16 runs (4 learning rates x 4 seeds of the
default MLP) to the end and evaluate them: jaxdl's ``train_sweep`` as one compiled,
vmapped program; the alternative as 16 calls of ``train_run``, each compiling its own
program as a separate process would. The metric is whole-sweep wall time; the record
also checks that both give the same losses.

Run: ``python -m benchmarks.run makemore_sweep``.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import numpy as np

from benchmarks import _harness
from jaxdl.data.names import load_splits
from jaxdl.lm import expand_grid, train_run, train_sweep
from jaxdl.lm.run import RUN_FIELDS
from jaxdl.lm.train import as_device_data
from train.makemore.configs import sweep

NAME = "makemore_sweep"


def run(*, quick: bool = False, num_steps: int | None = None, **_: Any) -> dict[str, Any]:
    load_before = list(os.getloadavg())
    config = sweep.get_config()
    if quick:
        num_steps = 2_000
    if num_steps:
        config.num_steps = num_steps
        config.chunk_steps = min(config.chunk_steps, num_steps)
    specs = expand_grid(
        {f: config[f] for f in RUN_FIELDS}, {k: list(v) for k, v in config.sweep.items()}
    )

    @functools.lru_cache
    def splits_fn(block_size):
        return {k: as_device_data(v) for k, v in load_splits(block_size).items()}

    splits_fn(config.block_size)  # loading the names is not what is compared
    with _harness.OtherLoad() as other:
        tic = time.perf_counter()
        swept = train_sweep(specs, splits_fn, chunk_steps=config.chunk_steps, progress=False)
        sweep_s = time.perf_counter() - tic
        tic = time.perf_counter()
        singles = [
            train_run(
                s, splits_fn(config.block_size), chunk_steps=config.chunk_steps, progress=False
            )
            for s in specs
        ]
        separate_s = time.perf_counter() - tic
    diffs = [
        abs(a.metrics["test_loss"] - b.metrics["test_loss"])
        for a, b in zip(swept, singles, strict=True)
    ]
    extra = {
        "num_runs": len(specs),
        "num_steps": config.num_steps,
        "max_test_loss_difference": float(np.max(diffs)),
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
    }
    return _harness.result_record(
        NAME,
        f"wall time of {len(specs)} runs, compile included",
        sweep_s,
        separate_s,
        "s",
        extra,
        higher_is_better=False,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
