"""N-way K-shot episodes: the prototype rule, and chance level on uninformative embeddings."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl.fewshot import class_table, few_shot_accuracy


def test_separated_classes_are_always_right_and_noise_is_at_chance():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(8), 30)
    centres = rng.normal(size=(8, 16)) * 10
    good = centres[labels] + rng.normal(size=(240, 16))
    noise = rng.normal(size=(240, 16))
    table = class_table(labels, np.arange(8))
    acc, _ = few_shot_accuracy(good, table, key=jax.random.key(0), ways=5, shots=1,
                               queries=5, num_episodes=200)  # fmt: skip
    assert float(acc) == 1.0
    acc, half_width = few_shot_accuracy(noise, table, key=jax.random.key(0), ways=5, shots=1,
                                        queries=5, num_episodes=200)  # fmt: skip
    assert abs(float(acc) - 0.2) < 3 * float(half_width) + 0.02


def test_too_many_shots_is_one_clear_error():
    table = class_table(np.repeat(np.arange(5), 4), np.arange(5))
    with pytest.raises(ValueError, match="shots=3, queries=2"):
        few_shot_accuracy(np.zeros((20, 2)), table, key=jax.random.key(0), shots=3, queries=2)


def test_train_siamese_runs_in_chunks_and_records_each():
    import jax
    import jax.numpy as jnp

    from jaxdl.fewshot.siamese import train_siamese

    images = (jax.random.uniform(jax.random.key(0), (5, 20, 28, 28)) * 255).astype(jnp.uint8)
    result = train_siamese(
        images,
        key=jax.random.key(1),
        num_steps=7,
        chunk_steps=3,
        examples_per_class=2,
        channels=(4,),
        hidden=(8,),
        embed_dim=4,
        progress=False,
    )
    assert [r["step"] for r in result.history] == [3, 6, 7]
    assert all(np.isfinite(r["train_loss"]) for r in result.history)
