"""N-way K-shot episodes (the prototype rule, chance level on uninformative embeddings) and
the pieces of the few-shot trainer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.fewshot import (
    LOSSES,
    center_and_normalise,
    class_batch,
    class_table,
    few_shot_accuracy,
    metric_loss_fn,
    rotate,
    shifted_images,
)


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


def test_cl2n_subtracts_the_base_mean_then_scales_to_unit_length():
    rng = np.random.default_rng(0)
    x, mean = rng.normal(size=(2, 7, 5)), rng.normal(size=5)
    out = np.asarray(center_and_normalise(x, mean))
    want = (x - mean) / np.linalg.norm(x - mean, axis=-1, keepdims=True)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    # Subtracting the mean changes which class a query is nearest to (cosine): the query
    # is closest in angle to shot a, but closest to shot b once the base mean is removed.
    mean = np.array([1.0, 0.0])
    query, a, b = np.array([2.0, 1.0]), np.array([4.0, 2.2]), np.array([1.5, 0.5])
    cos = lambda u, v: u @ v / np.linalg.norm(u) / np.linalg.norm(v)  # noqa: E731
    assert cos(query, a) > cos(query, b)
    q, sa, sb = np.asarray(center_and_normalise(np.stack([query, a, b]), mean))
    assert q @ sb > q @ sa
    with pytest.raises(ValueError, match="base_mean has shape"):
        center_and_normalise(x, mean)


def test_shifted_images_move_the_content_and_zero_fill():
    images = np.random.default_rng(0).integers(1, 255, size=(2, 6, 6)).astype(np.uint8)
    views = np.asarray(shifted_images(images, 2))
    assert views.shape == (9, 2, 6, 6)
    np.testing.assert_array_equal(views[0], images)
    moves = [(dy, dx) for dy in (-2, 0, 2) for dx in (-2, 0, 2) if (dy, dx) != (0, 0)]
    for view, (dy, dx) in zip(views[1:], moves, strict=True):
        rolled = np.roll(images, (dy, dx), axis=(1, 2))
        inside = np.zeros((6, 6), bool)
        inside[max(dy, 0) : 6 + min(dy, 0), max(dx, 0) : 6 + min(dx, 0)] = True
        np.testing.assert_array_equal(view[:, inside], rolled[:, inside])
        assert (view[:, ~inside] == 0).all()


def test_support_views_match_each_shot_at_its_best_view():
    """A toy of shifted images: each example sits at offset 0 or 1, and its feature is its
    class's pattern at that offset; view s of an example is its pattern at offset + s.
    Queries (view 0) match their class's shot only when the offsets agree, unless the
    shot's shifted views are there too."""
    rng = np.random.default_rng(0)
    classes, per_class, dim = 5, 20, 64
    labels = np.repeat(np.arange(classes), per_class)
    offsets = rng.integers(0, 2, size=labels.shape)
    patterns = rng.normal(size=(classes, 4, dim))  # positions -1, 0, 1, 2
    views = np.stack([patterns[labels, offsets + s + 1] for s in (0, 1, -1)])
    views += rng.normal(size=views.shape) * 0.01
    table = class_table(labels, np.arange(classes))
    kw = dict(key=jax.random.key(0), ways=5, shots=1, queries=5, num_episodes=200)
    one_view, _ = few_shot_accuracy(views[0], table, **kw)
    every_view, _ = few_shot_accuracy(views, table, **kw)
    assert float(every_view) == 1.0
    assert 0.4 < float(one_view) < 0.8  # right when the offsets agree (half), else chance
    with pytest.raises(ValueError, match="expected \\(n, d\\) or \\(views, n, d\\)"):
        few_shot_accuracy(views[None], table, **kw)


def _images_by_class(classes: int = 3, per_class: int = 5) -> jnp.ndarray:
    """uint8 images whose every pixel holds 50 * class + index, so rows can be traced."""
    values = 50 * np.arange(classes)[:, None] + np.arange(per_class)[None]
    return jnp.asarray(np.broadcast_to(values[:, :, None, None], (classes, per_class, 28, 28)),
                       jnp.uint8)  # fmt: skip


def test_class_batch_is_class_major_balanced_and_normalised():
    images = _images_by_class()
    b = class_batch(jax.random.key(0), images, examples_per_class=4, augment=False)
    assert b["image"].shape == (12, 28, 28, 1) and b["image"].dtype == jnp.float32
    assert b["label"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    pixel = np.rint((np.asarray(b["image"][:, 0, 0, 0]) * 0.3530 + 0.2860) * 255)
    assert (pixel // 50).tolist() == b["label"].tolist()  # each image from its own class
    again = class_batch(jax.random.key(0), images, examples_per_class=4, augment=False)
    np.testing.assert_array_equal(again["image"], b["image"])  # a function of the key


@pytest.mark.parametrize("rotations", [2, 4])
def test_class_batch_rotation_labels_are_class_times_turns_plus_turn(rotations):
    images = _images_by_class()
    b = class_batch(jax.random.key(1), images, examples_per_class=8, augment=False,
                    rotations=rotations)  # fmt: skip
    label = np.asarray(b["label"])
    assert (label // rotations).tolist() == np.repeat(np.arange(3), 8).tolist()
    assert set(label % rotations) <= set(range(rotations))
    plain = class_batch(jax.random.key(1), images, examples_per_class=8, augment=False)
    turns = (label % rotations) * (4 // rotations)
    np.testing.assert_array_equal(b["image"], rotate(plain["image"], jnp.asarray(turns)))


def test_class_batch_and_loss_reject_bad_settings():
    with pytest.raises(ValueError, match="rotations is 3, expected 1, 2 or 4"):
        class_batch(jax.random.key(0), _images_by_class(), examples_per_class=2, rotations=3)
    with pytest.raises(ValueError, match="images_by_class has shape"):
        class_batch(jax.random.key(0), jnp.zeros((3, 28, 28), jnp.uint8), examples_per_class=2)
    with pytest.raises(ValueError, match="loss is 'hinge', expected one of cross_entropy"):
        metric_loss_fn(lambda x, **_: x, {"image": np.zeros((2, 3)), "label": np.zeros(2)},
                       train=True, key=None, loss="hinge", margin=1.0, temperature=0.1,
                       num_classes=2)  # fmt: skip
