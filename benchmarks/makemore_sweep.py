"""makemore sweep: 16 runs in one vmapped program vs 16 separate runs, compilation included.

Both sides train the ``sweep`` config's 16 runs (4 learning rates x 4 seeds of the
default MLP) to the end and evaluate them through the engine (``jaxdl.training.train``
over a ``Sampled`` source): jaxdl's way as one compiled, vmapped program over the
stacked states (``jaxdl.charlm.init_states``, ``vmapped=True``); the alternative as 16
``train`` calls, each compiling its own program as a separate process would. The metric
is whole-sweep wall time; the record also checks that both give the same losses.

Run: ``python -m benchmarks.run makemore_sweep``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import numpy as np

from benchmarks import _flops, _harness
from jaxdl.charlm import (
    CharLMRun,
    as_device_data,
    init_states,
    lm_loss,
    make_split_evaluator,
    seq_lm_loss,
    train_char_lm,
    whole_words,
)
from jaxdl.data.names import load_splits
from jaxdl.training import Sampled, expand_grid, make_chunk
from train.makemore.configs import sweep

NAME = "makemore_sweep"


def sweep_cost(state: Any, spec: CharLMRun, data: dict[str, Any]) -> dict[str, Any]:
    """FLOPs of the vmapped sweep as timed: ``spec.num_steps`` training steps of the
    stacked runs (one step costed: the engine's chunk compiled for one step, the batch
    drawn as :func:`train_char_lm` draws it) plus the vmapped evaluation of every split."""
    train_data, loss_fn = data["train"], lm_loss
    if spec.model == "transformer":  # as train_char_lm trains it
        train_data, loss_fn = whole_words(train_data), seq_lm_loss
    source = Sampled(train_data, spec.batch_size, steps_per_epoch=1)
    chunk = make_chunk(loss_fn, source, vmapped=True)
    step = _flops.program_cost(lambda s, d: chunk(s, d, None, 1), state, train_data)
    evaluate = make_split_evaluator(vmapped=True)
    total = {k: v * spec.num_steps for k, v in step.items() if k != "loops"}
    loops = [("train step", spec.num_steps, step["flops"])]
    for split, v in data.items():
        cost = _flops.program_cost(evaluate, state, v)
        total = {k: total[k] + cost.get(k, 0.0) for k in total}
        loops.append((f"evaluate {split}", 1, cost["flops"]))
    return {**total, "loops": loops}


def run(*, quick: bool = False, num_steps: int | None = None, **_: Any) -> dict[str, Any]:
    load_before = list(os.getloadavg())
    config = sweep.get_config()
    if quick:
        num_steps = 2_000
    if num_steps:
        config.num_steps = num_steps
        config.chunk_steps = min(config.chunk_steps, num_steps)
    base = CharLMRun(**{f.name: config[f.name] for f in dataclasses.fields(CharLMRun)})
    specs = expand_grid(base, {k: list(v) for k, v in config.sweep.items()})
    # Loading the names is not what is compared.
    data = {k: as_device_data(v) for k, v in load_splits(config.block_size).items()}
    with _harness.OtherLoad() as other:
        tic = time.perf_counter()
        swept = train_char_lm(
            init_states(specs),
            specs[0],
            data["train"],
            chunk_steps=config.chunk_steps,
            progress=False,
            vmapped=True,
            on_non_finite="record",
        )
        # Both sides evaluate every split, as the recipe does.
        evaluate = make_split_evaluator(vmapped=True)
        swept_losses = {k: np.asarray(evaluate(swept.state, v)) for k, v in data.items()}
        sweep_s = time.perf_counter() - tic
        tic = time.perf_counter()
        single_test = []
        for s in specs:
            single = train_char_lm(
                s.init_state(), s, data["train"], chunk_steps=config.chunk_steps, progress=False
            )
            evaluate = make_split_evaluator()
            losses = {k: float(evaluate(single.state, v)) for k, v in data.items()}
            single_test.append(losses["test"])
        separate_s = time.perf_counter() - tic
    extra = {
        "num_runs": len(specs),
        "num_steps": config.num_steps,
        "max_test_loss_difference": float(
            np.max(np.abs(swept_losses["test"] - np.asarray(single_test)))
        ),
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # Over the sweep's wall time, compilation included (what the metric times).
        "flops": _flops.program_record(
            sweep_cost(swept.state, specs[0], data), sweep_s, note="seconds include compiling"
        ),
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
