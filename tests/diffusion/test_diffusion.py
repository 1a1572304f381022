"""Schedules, the forward process and the DDPM/DDIM steps against diffusers (PyTorch)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.diffusion import (
    classifier_free_guidance,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    ddpm_posterior,
    ddpm_sample,
    ddpm_step,
    make_schedule,
    q_sample,
)

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

SHAPE = (3, 1, 4, 4)  # diffusers is NCHW; the functions here do not care about layout


def randn(seed, shape=SHAPE):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("ours", "theirs"), [("linear", "linear"), ("cosine", "squaredcos_cap_v2")]
)
def test_schedules_match(ours, theirs):
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=theirs)
    s = make_schedule(ours, 1000)
    np.testing.assert_allclose(s.betas, ref.betas.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s.alpha_bar, ref.alphas_cumprod.numpy(), rtol=1e-5, atol=1e-7)


def test_seed_schedule_is_the_linear_one_and_the_seeds_product_is_off_by_one():
    seed, linear = make_schedule("seed"), make_schedule("linear")
    np.testing.assert_allclose(seed.betas, linear.betas, atol=2e-7)  # float32 rounding of 1 - a
    alpha = np.linspace(0.9999, 0.98, 1000)
    t = 10
    seed_alpha_bar = np.prod(alpha[:t])  # the seed's forward_diffusion
    assert seed_alpha_bar == pytest.approx(float(seed.alpha_bar[t - 1]), rel=1e-5)
    assert seed_alpha_bar != pytest.approx(float(seed.alpha_bar[t]), rel=1e-5)


def test_q_sample_matches_add_noise():
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000)
    x0, noise, t = randn(0), randn(1), torch.tensor([0, 500, 999])
    expected = ref.add_noise(x0, noise, t).numpy()
    got = q_sample(make_schedule(), x0.numpy(), t.numpy(), noise.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("clip", [None, 1.0])
@pytest.mark.parametrize("t", [999, 500, 1, 0])
def test_ddpm_step_matches(t, clip):
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, clip_sample=clip is not None)
    x, eps = randn(2), randn(3)
    expected = ref.step(eps, t, x, generator=torch.Generator().manual_seed(4)).prev_sample
    got = ddpm_step(
        make_schedule(), x.numpy(), jnp.int32(t), eps.numpy(), randn(4).numpy(), clip_sample=clip
    )
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_ddpm_posterior_matches_diffusers(kind):
    """diffusers' posterior mean (its step without the noise) and ``_get_variance``."""
    theirs_kind = {"linear": "linear", "cosine": "squaredcos_cap_v2"}[kind]
    ref = diffusers.DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule=theirs_kind,
        prediction_type="sample",  # the model output is x_0 itself
        clip_sample=False,
    )
    s = make_schedule(kind, 1000)
    x_t, x0 = randn(5), randn(6)
    ts = [999, 500, 1, 0]
    for t in ts:
        prev = ref.step(x0, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
        var = float(ref._get_variance(t))
        mean = prev - (var**0.5 if t > 0 else 0.0) * randn(7)  # the noise diffusers drew
        got_mean, got_var = ddpm_posterior(s, x_t.numpy(), jnp.int32(t), x0.numpy())
        np.testing.assert_allclose(got_mean, mean.numpy(), rtol=1e-5, atol=1e-5)
        # jaxdl takes beta_t as 1 - alpha_bar_t / alpha_bar_{t-1} in float32 (as ddpm_step always
        # has); diffusers reads the betas table: the two round differently by ~2e-5.
        np.testing.assert_allclose(float(got_var), var, rtol=1e-4, atol=1e-12)
    # One timestep per example equals each example at its own scalar timestep.
    t_each = jnp.array([999, 500, 1])
    mean_b, var_b = ddpm_posterior(s, x_t.numpy(), t_each, x0.numpy())
    assert var_b.shape == (3, 1, 1, 1)
    for i, t in enumerate(t_each.tolist()):
        m, v = ddpm_posterior(s, x_t.numpy()[i], jnp.int32(t), x0.numpy()[i])
        np.testing.assert_allclose(mean_b[i], m, rtol=1e-6)
        np.testing.assert_allclose(var_b[i, 0, 0, 0], v, rtol=1e-6)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_steps_match(eta):
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, clip_sample=False)
    ref.set_timesteps(50)
    ours = ddim_timesteps(1000, 50)
    np.testing.assert_array_equal(ours, ref.timesteps.numpy())
    s = make_schedule()
    for i in (0, 10, 49):
        t = int(ours[i])
        t_prev = int(ours[i + 1]) if i + 1 < 50 else -1
        x, eps, z = randn(10 + i), randn(20 + i), randn(30 + i)
        expected = ref.step(eps, t, x, eta=eta, variance_noise=z).prev_sample
        got = ddim_step(
            s, x.numpy(), jnp.int32(t), jnp.int32(t_prev), eps.numpy(), z.numpy(), eta=eta
        )
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)


def fake_eps(x, t):
    """A stand-in network: smooth in x and t, the same in both frameworks."""
    return 0.3 * x + 0.01 * jnp.sin(t.astype(jnp.float32))[:, None, None, None]


def test_ddim_sampler_is_the_diffusers_loop():
    x0 = jax.random.normal(jax.random.split(jax.random.key(5))[0], SHAPE)  # the sampler's start
    ours = ddim_sample(fake_eps, make_schedule(), key=jax.random.key(5), shape=SHAPE, num_steps=10)
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, clip_sample=False)
    ref.set_timesteps(10)
    x = torch.as_tensor(np.asarray(x0))
    for t in ref.timesteps:
        tt = jnp.full((SHAPE[0],), int(t), jnp.int32)
        eps = torch.as_tensor(np.asarray(fake_eps(jnp.asarray(x.numpy()), tt)))
        x = ref.step(eps, t, x, eta=0.0).prev_sample
    np.testing.assert_allclose(ours, x.numpy(), rtol=1e-4, atol=1e-4)


def test_ddpm_sampler_runs_all_steps_and_is_deterministic():
    s = make_schedule("linear", 50)
    calls = []
    a = ddpm_sample(fake_eps, s, key=jax.random.key(0), shape=SHAPE, callback=calls.append)
    b = ddpm_sample(fake_eps, s, key=jax.random.key(0), shape=SHAPE)
    jax.effects_barrier()
    np.testing.assert_array_equal(a, b)
    assert len(calls) == 50 and np.isfinite(np.asarray(a)).all()


def test_guidance_mixes_conditional_and_unconditional():
    def eps_fn(x, t, y):
        return jnp.broadcast_to(y[:, None].astype(jnp.float32), x.shape)

    labels = jnp.array([2, 5])
    x, t = jnp.zeros((2, 3)), jnp.zeros((2,), jnp.int32)
    guided = classifier_free_guidance(eps_fn, labels, guidance_scale=3.0, null_label=10)
    np.testing.assert_allclose(guided(x, t)[:, 0], 10 + 3.0 * (labels - 10))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: q_sample(s, jnp.zeros((2, 3)), jnp.array([0, 1000]), jnp.zeros((2, 3))),
            r"t has values in \[0, 1000\], expected timesteps in \[0, 1000\)",
        ),
        (
            lambda s: q_sample(s, jnp.zeros((2, 3)), jnp.array([-1, 5]), jnp.zeros((2, 3))),
            r"t has values in \[-1, 5\]",
        ),
        (
            lambda s: ddim_timesteps(1000, 1001),
            "num_steps is 1001, expected 1 <= num_steps <= 1000",
        ),
        (
            lambda s: q_sample(s, jnp.zeros((2, 3)), jnp.array([0, 1]), jnp.zeros((2, 4))),
            r"noise has shape \(2, 4\), expected x0's shape \(2, 3\)",
        ),
        (
            lambda s: q_sample(s, jnp.zeros((2, 3)), jnp.array([0]), jnp.zeros((2, 3))),
            r"t has shape \(1,\), expected \(2,\)",
        ),
        (lambda s: make_schedule("sigmoid"), "kind is 'sigmoid'"),
        (
            lambda s: ddpm_step(s, jnp.zeros((2, 3)), 1000, jnp.zeros((2, 3)), jnp.zeros((2, 3))),
            r"t has values in \[1000, 1000\], expected timesteps in \[0, 1000\)",
        ),
        (
            lambda s: ddim_step(s, jnp.zeros(3), -3, -4, jnp.zeros(3), jnp.zeros(3)),
            r"t has values in \[-3, -3\], expected timesteps in \[0, 1000\)",
        ),
        (
            lambda s: ddim_step(s, jnp.zeros(3), 500, 600, jnp.zeros(3), jnp.zeros(3)),
            r"t_prev is 600 for t = 500, expected -1 <= t_prev < t",
        ),
    ],
)
def test_bad_inputs_are_one_sentence(call, message):
    with pytest.raises(ValueError, match=message):
        call(make_schedule())
