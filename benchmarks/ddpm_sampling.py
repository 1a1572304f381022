"""DDPM sampling of 64 Fashion-MNIST-sized images, jaxdl vs PyTorch: seconds per 1000 steps.

jaxdl: the ``ddpm`` recipe's UNet (:class:`jaxdl.nn.unet.UNet` built from the fields of
``train/ddpm/configs/default.py``, class-conditional, no guidance) inside
:func:`jaxdl.diffusion.ddpm_sample`: every step in one compiled ``lax.scan``, compiled
ahead of time.
Baseline: the seed's ``reverse_diffusion_ddpm`` approach: a Python ``for t in
reversed(range(T))`` loop calling a PyTorch module once per step, with the seed's bugs
fixed (a precomputed alpha-bar table instead of a per-example ``torch.prod``, Ho et
al.'s posterior variance instead of ``0.01 * i / T``, ``x0`` clipped to [-1, 1] as
jaxdl does) and under ``torch.no_grad()``. The PyTorch UNet is the same architecture
written with ``torch.nn`` and loaded with the jaxdl weights; the run refuses to time
unless both predict the same noise (max abs difference below 1e-4).

To stay within a few minutes on 2 shared CPU cores both sides run ``STEPS`` = 20 steps of
a 20-step linear schedule and the times are scaled by 1000 / ``STEPS``: a step costs the
same whatever the schedule's length (one network call on a ``(64, 28, 28, 1)`` batch
plus elementwise updates), so this is the per-1000-step time, not a different workload.

Run: ``python -m benchmarks.run ddpm_sampling``.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks import _flops, _harness
from jaxdl.diffusion import ddpm_sample, make_schedule
from jaxdl.nn.unet import UNet
from train.ddpm.configs import default

NAME = "ddpm_sampling"
NUM_IMAGES = 64
STEPS = 20
FULL_STEPS = 1000


def randomized_model(config: Any, key: jax.Array):
    """The recipe's UNet with every parameter perturbed (its zero-initialised last convs
    would otherwise make the output trivially equal on both sides)."""
    model = UNet(
        (28, 28, 1),
        channels=tuple(config.channels),
        attention=config.attention,
        num_classes=10,
        dropout=config.dropout,
        dtype=jnp.float32,
        rngs=nnx.Rngs(params=key),
    )
    params = nnx.state(model, nnx.Param)
    leaves, treedef = jax.tree.flatten(params)
    # NumPy draws the perturbation: jax.random.normal compiles a program per leaf shape,
    # which took longer (45 s on a loaded 2-core CPU) than building the model itself.
    rng = np.random.default_rng([*np.asarray(jax.random.key_data(key)).tolist(), 1])
    leaves = [
        jnp.asarray(np.asarray(p) + 0.05 * rng.standard_normal(p.shape).astype(p.dtype))
        for p in leaves
    ]
    nnx.update(model, jax.tree.unflatten(treedef, leaves))
    return model


def torch_unet(model: Any):
    """A ``torch.nn`` copy of a :class:`jaxdl.nn.unet.UNet` (no attention), same weights."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    if model.attn is not None:
        raise ValueError("the PyTorch mirror has no self-attention; use attention=False.")

    def conv(c, stride=1):
        k = np.asarray(c.kernel[...])
        out = nn.Conv2d(
            k.shape[2],
            k.shape[3],
            k.shape[:2],
            stride=stride,
            padding=0 if stride > 1 or k.shape[0] == 1 else k.shape[0] // 2,
        )
        out.weight.data = torch.from_numpy(k.transpose(3, 2, 0, 1).copy())
        out.bias.data = torch.from_numpy(np.asarray(c.bias[...]).copy())
        return out

    def linear(lin):
        k = np.asarray(lin.kernel[...])
        out = nn.Linear(*k.shape)
        out.weight.data = torch.from_numpy(k.T.copy())
        out.bias.data = torch.from_numpy(np.asarray(lin.bias[...]).copy())
        return out

    def norm(g):
        scale = np.asarray(g.scale[...])
        out = nn.GroupNorm(g.num_groups, scale.shape[0], eps=g.epsilon)
        out.weight.data = torch.from_numpy(scale.copy())
        out.bias.data = torch.from_numpy(np.asarray(g.bias[...]).copy())
        return out

    class Res(nn.Module):
        def __init__(self, b):
            super().__init__()
            self.norm1, self.conv1, self.time = norm(b.norm1), conv(b.conv1), linear(b.time)
            self.norm2, self.conv2 = norm(b.norm2), conv(b.conv2)
            self.skip = conv(b.skip) if b.skip is not None else nn.Identity()

        def forward(self, x, temb):
            h = self.conv1(F.silu(self.norm1(x)))
            h = h + self.time(F.silu(temb))[:, :, None, None]
            h = self.conv2(F.silu(self.norm2(h)))
            return h + self.skip(x)

    class Down(nn.Module):  # XLA's SAME padding for stride 2 pads only after (bottom/right)
        def __init__(self, c):
            super().__init__()
            self.conv = conv(c, stride=2)

        def forward(self, x):
            return self.conv(F.pad(x, (0, 1, 0, 1)))

    class TorchUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.t_dim_in = model.t_in.in_features
            self.t_in, self.t_out = linear(model.t_in), linear(model.t_out)
            self.class_emb = nn.Embedding.from_pretrained(
                torch.from_numpy(np.asarray(model.class_emb.embedding[...]).copy())
            )
            self.conv_in = conv(model.conv_in)
            self.down = nn.ModuleList(Res(b) for b in model.down)
            self.downsample = nn.ModuleList(Down(c) for c in model.downsample)
            self.mid1, self.mid2 = Res(model.mid1), Res(model.mid2)
            self.up = nn.ModuleList(Res(b) for b in model.up)
            self.upsample = nn.ModuleList(conv(c) for c in model.upsample)
            self.norm_out, self.conv_out = norm(model.norm_out), conv(model.conv_out)

        def forward(self, x, t, labels):
            half = self.t_dim_in // 2
            freqs = torch.exp(-np.log(10_000.0) * torch.arange(half) / half)
            args = t.float()[:, None] * freqs[None]
            emb = torch.cat([torch.cos(args), torch.sin(args)], -1)
            temb = self.t_out(F.silu(self.t_in(emb))) + self.class_emb(labels)
            h, skips = self.conv_in(x), []
            for i, block in enumerate(self.down):
                h = block(h, temb)
                skips.append(h)
                if i < len(self.downsample):
                    h = self.downsample[i](h)
            h = self.mid2(self.mid1(h, temb), temb)
            for i, block in enumerate(self.up):
                h = block(torch.cat([h, skips.pop()], 1), temb)
                if i < len(self.upsample):
                    h = self.upsample[i](F.interpolate(h, scale_factor=2, mode="nearest"))
            return self.conv_out(F.silu(self.norm_out(h)))

    return TorchUNet().eval()


def torch_ddpm_loop(net, betas: np.ndarray, labels, *, seed: int = 0):
    """The seed's per-step Python loop, with the correct DDPM update."""
    import torch

    g = torch.Generator().manual_seed(seed)
    betas = torch.from_numpy(np.array(betas, np.float32))
    alphas = 1 - betas
    ab = torch.cumprod(alphas, 0)
    ab_prev = torch.cat([torch.ones(1), ab[:-1]])
    x = torch.randn((labels.shape[0], 1, 28, 28), generator=g)
    with torch.no_grad():
        for t in reversed(range(betas.shape[0])):
            eps = net(x, torch.full((x.shape[0],), t), labels)
            x0 = ((x - torch.sqrt(1 - ab[t]) * eps) / torch.sqrt(ab[t])).clamp(-1, 1)
            mean = (
                torch.sqrt(ab_prev[t]) * betas[t] * x0
                + torch.sqrt(alphas[t]) * (1 - ab_prev[t]) * x
            ) / (1 - ab[t])
            if t > 0:
                var = (1 - ab_prev[t]) / (1 - ab[t]) * betas[t]
                x = mean + torch.sqrt(var) * torch.randn(x.shape, generator=g)
            else:
                x = mean
    return x


def run(*, repeats: int = 3, quick: bool = False, **_: Any) -> dict[str, Any]:
    import torch

    load_before = list(os.getloadavg())
    threads = _harness.set_threads()
    config = default.get_config()
    steps = 5 if quick else STEPS
    repeats = 1 if quick else repeats
    model = randomized_model(config, jax.random.key(0))
    net = torch_unet(model)

    # Same architecture, same weights: the noise predictions must agree.
    x = jax.random.normal(jax.random.key(1), (4, 28, 28, 1))
    t = jnp.array([0, 10, 500, 999])
    y = jnp.array([0, 3, 7, 10])
    ours = np.asarray(model(x, t, y))
    theirs = (
        net(
            torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy()),
            torch.from_numpy(np.array(t)),
            torch.from_numpy(np.array(y)),
        )
        .detach()
        .numpy()
        .transpose(0, 2, 3, 1)
    )
    max_diff = float(np.max(np.abs(ours - theirs)))
    if max_diff > 1e-4:
        raise RuntimeError(f"the PyTorch UNet differs from jaxdl's by {max_diff:.2e}; not timing.")

    schedule = make_schedule(config.schedule, steps)
    labels = jnp.arange(NUM_IMAGES, dtype=jnp.int32) % 10
    graphdef, state = nnx.split(model)

    def sample(state, key):
        net_ = nnx.merge(graphdef, state)
        return ddpm_sample(
            lambda x, t: net_(x, t, labels),
            schedule,
            key=key,
            shape=(NUM_IMAGES, 28, 28, 1),
            clip_sample=1.0,
        )

    compiled = jax.jit(sample).lower(state, jax.random.key(0)).compile()
    torch_labels = torch.from_numpy(np.array(labels)).long()
    betas = np.asarray(schedule.betas, np.float32)

    def torch_one_thread():
        torch.set_num_threads(1)
        try:
            return torch_ddpm_loop(net, betas, torch_labels)
        finally:
            torch.set_num_threads(threads["torch"])

    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {
                "jaxdl": lambda: compiled(state, jax.random.key(0)),
                "baseline": lambda: torch_ddpm_loop(net, betas, torch_labels),
                "baseline_1_thread": torch_one_thread,
            },
            warmup=1,
            repeats=repeats,
        )
    scale = FULL_STEPS / steps
    extra = {
        "num_images": NUM_IMAGES,
        "steps_timed": steps,
        "scaled_to_steps": FULL_STEPS,
        "unet_channels": list(config.channels),
        "call_seconds": times,
        "repeats": repeats,
        "threads": threads,
        "sanity": {"max_abs_eps_difference": max_diff},
        # PyTorch's 2 OpenMP threads wait on each other when other processes hold the
        # cores; one thread is the reference that does not (as in gcn_layer).
        "reference_ratio_torch_1_thread": _harness.median(times["baseline_1_thread"])
        / _harness.median(times["jaxdl"]),
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # The timed program: a scan of ``steps`` UNet calls and updates, each counted.
        "flops": _flops.program_record(
            _flops.program_cost(sample, state, jax.random.key(0)), _harness.median(times["jaxdl"])
        ),
    }
    extra.pop("threads")  # result_record sets it from the running process
    return _harness.result_record(
        NAME,
        f"seconds to sample {NUM_IMAGES} images with {FULL_STEPS} DDPM steps "
        f"(timed over {steps} steps, scaled)",
        _harness.median(times["jaxdl"]) * scale,
        _harness.median(times["baseline"]) * scale,
        "s",
        extra,
        higher_is_better=False,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
