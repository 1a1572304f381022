"""NT-Xent forward+backward: jaxdl's matmul + log-softmax vs the seed's simclr_loss.

The seed (PyTorch) builds the cosine similarity of every pair through a broadcast
``(2N, 2N, D)`` tensor and exponentiates without a log-sum-exp. jaxdl's ``ntxent`` uses
one ``(2N, 2N)`` matmul of normalised embeddings and a masked log-softmax. Both compute
the loss and its gradient for the same random embeddings (2N = 2048, D = 128, tau 0.1).
The record also times jaxdl alone at 2N = 16384, where the seed's version would need
hundreds of GB.

Run: ``python -m benchmarks.run ntxent``.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import _harness
from jaxdl.losses import ntxent

NAME = "ntxent"


def seed_simclr_loss(z1, z2, tau):
    import torch

    n = z1.shape[0]
    z = torch.cat((z1, z2), 0)
    sim = torch.exp(
        torch.nn.functional.cosine_similarity(z[:, None, :], z[None, :, :], dim=2) / tau
    )
    numerator = torch.cat((torch.diagonal(sim, offset=n), torch.diagonal(sim, offset=-n)), 0)
    sim = sim - torch.diag(torch.diagonal(sim))
    return -1 / (2 * n) * torch.sum(torch.log(numerator / sim.sum(0)))


def run(
    *,
    repeats: int = 3,
    quick: bool = False,
    two_n: int = 2048,
    dim: int = 128,
    large_two_n: int = 16384,
    **_: Any,
) -> dict[str, Any]:
    import torch

    load_before = list(os.getloadavg())
    if quick:
        two_n, large_two_n, repeats = 128, 512, 1
    _harness.set_threads()
    rng = np.random.default_rng(0)
    z1, z2 = (rng.normal(size=(two_n // 2, dim)).astype(np.float32) for _ in range(2))
    grad = jax.jit(jax.value_and_grad(lambda a, b: ntxent(a, b, temperature=0.1).mean(), (0, 1)))
    j1, j2 = jnp.asarray(z1), jnp.asarray(z2)

    def torch_side():
        a = torch.tensor(z1, requires_grad=True)
        b = torch.tensor(z2, requires_grad=True)
        loss = seed_simclr_loss(a, b, 0.1)
        loss.backward()
        return loss

    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": lambda: grad(j1, j2), "baseline": torch_side}, warmup=1, repeats=repeats
        )
    ours, theirs = float(grad(j1, j2)[0]), float(torch_side().detach())
    big = rng.normal(size=(large_two_n // 2, dim)).astype(np.float32)
    jb = jnp.asarray(big)
    large = _harness.time_fn(lambda: grad(jb, jb * 0.9), warmup=1, repeats=repeats)
    extra = {
        "two_n": two_n,
        "dim": dim,
        "call_seconds": times,
        "loss": {"jaxdl": ours, "baseline": theirs},
        "jaxdl_large": {"two_n": large_two_n, "seconds": _harness.median(large)},
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        "flops": _harness.flops_record(
            _harness.step_cost(grad, j1, j2), 1, _harness.median(times["jaxdl"])
        ),
    }
    return _harness.result_record(
        NAME,
        f"forward+backward seconds at 2N = {two_n}, D = {dim}",
        _harness.median(times["jaxdl"]),
        _harness.median(times["baseline"]),
        "s",
        extra,
        higher_is_better=False,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
