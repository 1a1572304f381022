"""The sequences recipe's HuBERT comparison through the entry point, tiny settings."""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.synthetic_speech import SpeechBatch
from train.__main__ import main


@pytest.mark.slow
def test_hubert_quick_run_writes_both_iterations_and_the_ctc_table(tmp_path):
    out = tmp_path / "run"
    assert main(["sequences", "--config=hubert_quick", f"--workdir={out}"]) == 0
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    for features in ("raw", "iter1", "iter2"):
        assert metrics[f"test_ctc_{features}_label_error_rate"] >= 0.0
    for it in ("iter1", "iter2", "iter3"):  # iter3: scored, not trained on
        for score in ("purity", "nmi", "seed_nmi"):
            assert 0.0 <= metrics[f"targets_{it}_{score}"] <= 1.0 + 1e-6
    for i in (1, 2):
        assert 0.0 <= metrics[f"test_hubert{i}_masked_accuracy"] <= 1.0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    stages = ["hubert1", "hubert2", "ctc_raw", "ctc_iter1", "ctc_iter2"]
    assert [r["task"] for r in records] == [s for s in stages for _ in range(2)]
    table = (out / "hubert.md").read_text()
    lers = [metrics[f"test_ctc_{f}_label_error_rate"] for f in ("raw", "iter1", "iter2")]
    assert all(f"| {v:.4f} |" in table for v in lers)
    assert f"| {metrics['targets_iter2_purity']:.3f} |" in table


def test_a_labelled_pool_repeats_its_batches_and_evaluation_does_not():
    from train.sequences.hubert import _ctc_batch, _raw

    def speech(key, *, batch_size):  # stands in for speech_batch: the key is the data
        return SpeechBatch(jax.random.normal(key, (batch_size, 3, 2)),
                           jnp.full((batch_size,), 3), None, None)  # fmt: skip

    pool = functools.partial(_ctc_batch, speech, _raw, batch_size=2, pool=3,
                             pool_key=jax.random.key(7))  # fmt: skip
    seen = {np.asarray(pool(jax.random.key(i)).frames).tobytes() for i in range(40)}
    assert len(seen) == 3
    fresh = {np.asarray(_ctc_batch(speech, _raw, jax.random.key(i), batch_size=2).frames
                        ).tobytes() for i in range(10)}  # fmt: skip
    assert len(fresh) == 10


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("target_layer", 5, r"config.hubert.target_layer is 5, expected 0 <= target_layer"),
        ("iterations", 0, "config.hubert.iterations is 0"),
        ("labelled_batches", (4, -1), r"config.hubert.labelled_batches is \(4, -1\)"),
    ],
)
def test_bad_hubert_fields_fail_before_training(tmp_path, field, value, message):
    from train.sequences.configs import hubert_quick
    from train.sequences.train import train_and_evaluate

    config = hubert_quick.get_config()
    config.hubert[field] = value
    with pytest.raises(ValueError, match=message):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
