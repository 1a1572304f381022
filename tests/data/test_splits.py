"""Validation splits: coverage, proportions, and zero leakage of groups and of the future."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl.data.splits import (
    fold_indices,
    group_kfold_ids,
    group_split,
    kfold_ids,
    random_split,
    stratified_kfold_ids,
    stratified_split,
    time_series_splits,
)

KEY = jax.random.key(0)
RNG = np.random.default_rng(0)
LABELS = RNG.choice(4, size=503, p=[0.6, 0.25, 0.1, 0.05])
GROUPS = RNG.integers(0, 60, size=503)  # 60 "objects", several examples each
TIMES = RNG.integers(0, 120, size=503)  # many equal timestamps


def assert_partition(train, val, n):
    assert len(np.intersect1d(train, val)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(n))


def test_random_split_is_a_seeded_partition():
    train, val = random_split(503, key=KEY, val_fraction=0.2)
    assert_partition(train, val, 503)
    assert len(val) == round(0.2 * 503)
    again = random_split(503, key=KEY, val_fraction=0.2)
    other = random_split(503, key=jax.random.key(1), val_fraction=0.2)
    np.testing.assert_array_equal(val, again[1])
    assert not np.array_equal(val, other[1])


def test_stratified_split_keeps_every_class_share():
    train, val = stratified_split(LABELS, key=KEY, val_fraction=0.2)
    assert_partition(train, val, len(LABELS))
    for c in range(4):
        count = np.sum(np.equal(LABELS, c))
        assert np.sum(LABELS[val] == c) == round(0.2 * count)


def test_group_split_never_splits_a_group():
    train, val = group_split(GROUPS, key=KEY, val_fraction=0.25)
    assert_partition(train, val, len(GROUPS))
    assert set(GROUPS[train]).isdisjoint(GROUPS[val])  # zero leakage
    assert 0.15 < len(val) / len(GROUPS) < 0.35


def test_kfold_variants_cover_every_example_once():
    for ids in (
        kfold_ids(503, num_folds=5, key=KEY),
        stratified_kfold_ids(LABELS, num_folds=5, key=KEY),
        group_kfold_ids(GROUPS, num_folds=5, key=KEY),
    ):
        folds = list(fold_indices(ids))
        assert len(folds) == 5
        vals = np.concatenate([v for _, v in folds])
        np.testing.assert_array_equal(np.sort(vals), np.arange(503))
        for train, val in folds:
            assert_partition(train, val, 503)
        sizes = np.bincount(ids)
        assert sizes.max() - sizes.min() <= 0.1 * 503


def test_stratified_folds_hold_each_class_within_one_example():
    ids = stratified_kfold_ids(LABELS, num_folds=5, key=KEY)
    for c in range(4):
        per_fold = np.bincount(ids[np.equal(LABELS, c)], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1


def test_group_folds_have_zero_group_leakage():
    ids = group_kfold_ids(GROUPS, num_folds=5, key=KEY)
    for train, val in fold_indices(ids):
        assert set(GROUPS[train]).isdisjoint(GROUPS[val])


@pytest.mark.parametrize("gap", [0, 7])
def test_time_series_splits_never_train_on_the_future(gap):
    splits = time_series_splits(TIMES, num_folds=4, gap=gap)
    assert len(splits) == 4
    seen_val = []
    for i, (train, val) in enumerate(splits):
        assert TIMES[train].max() < TIMES[val].min()  # zero leakage from the future
        if i:  # forward chaining: each training set extends the previous one
            assert set(splits[i - 1][0]) < set(train)
        seen_val.append(val)
    # The validation blocks tile the data after the first training block.
    vals = np.concatenate(seen_val)
    assert len(np.unique(vals)) == len(vals)
    assert np.all(TIMES[vals] >= TIMES[splits[0][0]].max())
    if gap:
        # The embargo: gap examples (in time order) between each train and validation.
        order = np.argsort(TIMES, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        for train, val in splits:
            assert rank[val].min() - rank[train].max() - 1 == gap


def test_bad_arguments_are_one_clear_error():
    with pytest.raises(ValueError, match="val_fraction"):
        random_split(10, key=KEY, val_fraction=1.5)
    with pytest.raises(ValueError, match="distinct group"):
        group_split([3, 3, 3], key=KEY)
    with pytest.raises(ValueError, match="num_folds"):
        time_series_splits(np.arange(5), num_folds=9)
    with pytest.raises(ValueError, match="labels"):
        stratified_split(np.zeros((3, 3)), key=KEY)
