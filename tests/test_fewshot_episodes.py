"""N-way K-shot episodes (the prototype rule, chance level on uninformative embeddings) and
the pieces of the few-shot trainer."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl.fewshot import class_table, few_shot_accuracy
from jaxdl.fewshot.siamese import LOSSES, metric_loss_fn, rotate


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


def test_rotate_turns_each_image_by_its_own_quarter_turns():
    images = np.arange(4 * 3 * 3).reshape(4, 3, 3, 1).astype(np.float32)
    turns = np.array([0, 1, 2, 3])
    out = np.asarray(rotate(images, turns))
    for i, k in enumerate(turns):
        np.testing.assert_array_equal(out[i], np.rot90(images[i], k, axes=(0, 1)))


@pytest.mark.parametrize("loss", LOSSES)
def test_each_training_loss_prefers_embeddings_that_separate_the_classes(loss):
    """The losses on a stand-in "model" that returns its input: class-coded vectors
    score better than the same vectors with the classes shuffled."""
    classes, per_class = 4, 6
    labels = np.repeat(np.arange(classes), per_class)
    rng = np.random.default_rng(0)
    good = np.eye(classes)[labels] * 5 + rng.normal(size=(24, classes)) * 0.1
    shuffled = good[rng.permutation(24)]

    def value(x):
        out, _ = metric_loss_fn(lambda x, **_: x, {"image": x, "label": labels}, train=True,
                                key=None, loss=loss, margin=1.0, temperature=0.1,
                                num_classes=classes)  # fmt: skip
        return float(out)

    assert value(good) < value(shuffled)
