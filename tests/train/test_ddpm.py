"""The ddpm recipe and its sample-quality script, on the tiny IDX data from conftest."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.errors import JaxdlError
from jaxdl.training import ema_params, track_ema
from train.__main__ import main
from train.ddpm import evaluate


@pytest.fixture(scope="module")
def runs(tiny_fmnist, tmp_path_factory):
    """A quick ddpm run and a quick fashion_mnist classifier run.

    The ddpm run keeps the quick config's programs (its 50 timesteps are a constant of
    them), so the diffusion notebook's quick run finds them compiled in the shared cache
    (see conftest.py); the seed only changes values. The classifier trains 6 epochs, as
    test_cli's runs do, for the same reason.
    """
    ddpm, cnn = tmp_path_factory.mktemp("ddpm"), tmp_path_factory.mktemp("cnn")
    data = f"--config.data_dir={tiny_fmnist}"
    assert main(["ddpm", "--config=quick", f"--workdir={ddpm}", data, "--config.seed=3"]) == 0
    assert (
        main(["fashion_mnist", "--config=quick", f"--workdir={cnn}", data, "--config.num_epochs=6"])
        == 0
    )
    return ddpm, cnn


@pytest.mark.slow
def test_quick_run_leaves_its_artefacts(runs):
    ddpm, _ = runs
    summary = json.loads((ddpm / "summary.json").read_text())
    assert np.isfinite(summary["metrics"]["test_loss"])
    assert summary["steps"] == 4  # 64 examples at batch 16, one epoch
    assert (ddpm / "samples_epoch01.png").stat().st_size > 200
    assert (ddpm / "samples.png").read_bytes() == (ddpm / "samples_epoch01.png").read_bytes()
    assert (ddpm / "checkpoints" / "4").is_dir()  # keyed by step
    config = json.loads((ddpm / "config.json").read_text())
    assert config["num_timesteps"] == 50 and config["seed"] == 3


@pytest.mark.slow
def test_evaluate_scores_every_sampler_on_the_same_samples(runs):
    ddpm, cnn = runs
    result = evaluate.evaluate(
        ddpm,
        cnn,
        num_samples=10,
        samplers=["ddim2", "ddpm50"],
        guidance_scales=[1.0],
        batch_size=10,
        progress=False,
    )
    rows = {r["sampler"]: r for r in result["samplers"]}
    assert set(rows) == {"real train images", "ddim2", "ddpm50"}
    assert rows["ddpm50"]["network_calls"] == 50 and rows["ddim2"]["network_calls"] == 2
    assert all(np.isfinite(r["fd"]) and 0 <= r["accuracy"] <= 1 for r in rows.values())
    assert result["guided"] == []  # scale 1 is the plain conditional row above
    assert "| ddpm50 | 1 | 50 |" in (ddpm / "sample_quality.md").read_text()
    assert (ddpm / "samples_ddpm50_w1.png").is_file()


@pytest.mark.slow
def test_ddpm_must_take_every_step(runs):
    ddpm, cnn = runs
    with pytest.raises(JaxdlError, match="DDPM takes all 50 steps of this run's schedule"):
        evaluate.evaluate(ddpm, cnn, num_samples=4, samplers=["ddpm1000"], guidance_scales=[])


def test_sampler_names():
    assert evaluate.parse_sampler("ddim50") == ("ddim", 50)
    with pytest.raises(JaxdlError, match="sampler 'plms20' is not ddimN or ddpmN"):
        evaluate.parse_sampler("plms20")


def test_ema_tracks_the_updated_parameters():
    tx = optax.chain(optax.sgd(1.0), track_ema(0.9))
    params = {"w": jnp.zeros(())}
    state = tx.init(params)
    for _ in range(3):
        updates, state = tx.update({"w": jnp.array(-1.0)}, state, params)
        params = optax.apply_updates(params, updates)
    # Warm-up decays min(0.9, (1 + n) / (10 + n)) = 2/11, 3/12, 4/13 for n = 1, 2, 3.
    expected = 0.0
    for n, p in zip((1, 2, 3), (1.0, 2.0, 3.0), strict=True):
        d = min(0.9, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * p
    np.testing.assert_allclose(ema_params(state)["w"], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="opt_state holds 0 EmaState"):
        ema_params(optax.sgd(1.0).init(params))
