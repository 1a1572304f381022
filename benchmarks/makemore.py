"""makemore (seed 002) default MLP: training steps/s, jaxdl vs the seed's PyTorch loop.

jaxdl: the engine's compiled chunk (``jaxdl.training.make_chunk`` over a ``Sampled``
source with ``jaxdl.charlm.lm_loss``, as the recipe's ``train`` call runs it): chunks of
steps in one compiled ``lax.scan``, minibatches drawn on the device.
Baseline: the seed notebook's loop, repaired (batch 32 instead of the scraped 33, the
update lines restored): raw tensors ``C, W1, b1, W2, b2`` from ``torch.randn``,
``torch.randint`` minibatches, ``F.cross_entropy``, ``backward``, ``p.data += -lr *
p.grad`` and ``loss.log10().item()`` recorded every step, as the seed tracks it.

Both train the same config on the same windows; the timed calls alternate (jaxdl chunk,
torch chunk, ...). With ``full`` (the default) both sides then train the whole
200,000-step run once more and their train/dev/test losses go into the record.

Run: ``python -m benchmarks.run makemore``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import jax
import numpy as np

from benchmarks import _harness
from jaxdl.charlm import (
    SPLITS,
    CharLMRun,
    as_device_data,
    lm_loss,
    make_split_evaluator,
    scan_unroll,
    train_char_lm,
)
from jaxdl.data.names import load_splits
from jaxdl.training import Sampled, make_chunk
from train.makemore.configs import default

NAME = "makemore"


class TorchSeedLoop:
    """The seed's training loop on one set of windows, resumable chunk by chunk."""

    def __init__(self, config: Any, windows: dict[str, Any]):
        import torch

        self.torch = torch
        self.config = config
        self.data = {
            k: (torch.as_tensor(v.x, dtype=torch.long), torch.as_tensor(v.y, dtype=torch.long))
            for k, v in windows.items()
        }
        g = torch.Generator().manual_seed(2147483647)
        fan_in = config.block_size * config.n_embd
        self.params = [
            torch.randn((27, config.n_embd), generator=g),
            torch.randn((fan_in, config.n_hidden), generator=g),
            torch.randn(config.n_hidden, generator=g),
            torch.randn((config.n_hidden, 27), generator=g),
            torch.randn(27, generator=g),
        ]
        for p in self.params:
            p.requires_grad = True
        self.step = 0
        self.lossi: list[float] = []

    @property
    def num_params(self) -> int:
        return sum(p.nelement() for p in self.params)

    def logits(self, x):
        C, W1, b1, W2, b2 = self.params
        emb = C[x]  # (B, block, n_embd)
        h = self.torch.tanh(emb.view(-1, W1.shape[0]) @ W1 + b1)
        return h @ W2 + b2

    def train(self, num_steps: int) -> None:
        F = self.torch.nn.functional
        xtr, ytr = self.data["train"]
        c = self.config
        decay_step = int(c.lr_decay_at * c.num_steps)
        for _ in range(num_steps):
            ix = self.torch.randint(0, xtr.shape[0], (c.batch_size,))
            loss = F.cross_entropy(self.logits(xtr[ix]), ytr[ix])
            for p in self.params:
                p.grad = None
            loss.backward()
            lr = c.learning_rate if self.step < decay_step else c.learning_rate * c.lr_decay_factor
            for p in self.params:
                p.data += -lr * p.grad
            self.lossi.append(loss.log10().item())
            self.step += 1

    def split_loss(self, split: str) -> float:
        F = self.torch.nn.functional
        with self.torch.no_grad():
            x, y = self.data[split]
            return float(F.cross_entropy(self.logits(x), y))


def run(
    *,
    repeats: int = 5,
    quick: bool = False,
    full: bool = True,
    chunk_steps: int = 10_000,
    torch_chunk_steps: int = 2_000,
    **_: Any,
) -> dict[str, Any]:
    """Times both sides and (with ``full``) compares their losses after a whole run."""
    import torch

    load_before = list(os.getloadavg())
    config = default.get_config()
    if quick:
        repeats, full, chunk_steps, torch_chunk_steps = 2, False, 500, 100
    _harness.set_threads()
    torch.manual_seed(0)
    windows = load_splits(config.block_size)
    data = {k: as_device_data(v) for k, v in windows.items()}
    spec = CharLMRun(**{f.name: config[f.name] for f in dataclasses.fields(CharLMRun)})

    source = Sampled(data["train"], spec.batch_size, steps_per_epoch=chunk_steps)
    chunk = make_chunk(lm_loss, source, unroll=scan_unroll(chunk_steps))
    jx = {"state": spec.init_state()}

    def jaxdl_chunk():
        jx["state"], metrics, _, _ = chunk(jx["state"], source.data, None, chunk_steps)
        return metrics["loss"]

    th = TorchSeedLoop(config, windows)
    jx_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(jx["state"].params))
    if jx_params != th.num_params:
        raise AssertionError(f"jaxdl has {jx_params} parameters, the baseline {th.num_params}.")
    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": jaxdl_chunk, "baseline": lambda: th.train(torch_chunk_steps)},
            warmup=1,
            repeats=repeats,
        )
    jaxdl_rate = chunk_steps / _harness.median(times["jaxdl"])
    torch_rate = torch_chunk_steps / _harness.median(times["baseline"])
    extra: dict[str, Any] = {
        "batch_size": config.batch_size,
        "steps_per_call": {"jaxdl": chunk_steps, "baseline": torch_chunk_steps},
        "call_seconds": times,
        "repeats": repeats,
        "num_params": th.num_params,
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # One step: the chunk compiled for one step, whose loop runs once.
        "flops": _harness.flops_record(
            _harness.step_cost(chunk, jx["state"], source.data, None, 1, single_trip_loops=True),
            chunk_steps,
            _harness.median(times["jaxdl"]),
        ),
    }
    if full:
        extra["full_run"] = _full_runs(config, spec, data, windows)
    return _harness.result_record(
        NAME, "training steps/s (batch 32)", jaxdl_rate, torch_rate, "steps/s", extra
    )


def _full_runs(config, spec, data, windows) -> dict[str, Any]:
    """Both sides' whole default run, untimed against each other: losses and wall times."""
    out: dict[str, Any] = {}
    tic = time.perf_counter()
    result = train_char_lm(
        spec.init_state(), spec, data["train"], chunk_steps=config.chunk_steps, progress=False
    )
    evaluate = make_split_evaluator()
    out["jaxdl"] = {f"{k}_loss": round(float(evaluate(result.state, data[k])), 4) for k in SPLITS}
    out["jaxdl"]["wall_s"] = round(time.perf_counter() - tic, 1)
    tic = time.perf_counter()
    th = TorchSeedLoop(config, windows)
    th.train(config.num_steps)
    out["baseline"] = {f"{k}_loss": round(th.split_loss(k), 4) for k in windows}
    out["baseline"]["wall_s"] = round(time.perf_counter() - tic, 1)
    out["num_steps"] = config.num_steps
    return out


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
