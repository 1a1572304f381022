"""The DDPM sampling benchmark's PyTorch side mirrors jaxdl's UNet."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from benchmarks import ddpm_sampling, run
from jaxdl.diffusion import make_schedule
from train.ddpm.configs import quick

torch = pytest.importorskip("torch")


def test_torch_unet_and_loop_match_jaxdl():
    assert ddpm_sampling.NAME in run.BENCHMARKS
    config = quick.get_config()  # channels (4, 8): two resolutions, one stride-2 conv
    model = ddpm_sampling.randomized_model(config, jax.random.key(0))
    net = ddpm_sampling.torch_unet(model)
    x = jax.random.normal(jax.random.key(1), (3, 28, 28, 1))
    t, y = jnp.array([0, 7, 999]), jnp.array([1, 9, 10])
    theirs = net(
        torch.from_numpy(np.array(x).transpose(0, 3, 1, 2)),
        torch.from_numpy(np.array(t)),
        torch.from_numpy(np.array(y)),
    )
    # Compiled: one program instead of one per operation and shape.
    ours = nnx.jit(lambda m, x, t, y: m(x, t, y))(model, x, t, y)
    np.testing.assert_allclose(theirs.detach().numpy().transpose(0, 2, 3, 1), ours, atol=1e-4)
    schedule = make_schedule("linear", 3)
    out = ddpm_sampling.torch_ddpm_loop(net, np.asarray(schedule.betas), torch.tensor([2, 5]))
    assert out.shape == (2, 1, 28, 28) and bool(torch.all(out.abs() <= 1))
