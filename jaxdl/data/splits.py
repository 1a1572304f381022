"""Validation splits that do not leak: random, stratified, grouped and forward-chaining.

The validation-set note's point: a random subset is only a fair test when examples are
independent. When several examples come from one object (a patient, a speaker, a
photographed item) the whole group must sit on one side, or the model is scored on near
copies of what it trained on; when data are ordered in time, the model must be validated
on the future of what it trained on, never the past.

Every function returns index arrays (numpy, sorted) into the dataset; randomness comes
from an explicit JAX key. Holdout splits return ``(train, val)``; k-fold variants return a
fold id per example, turned into ``(train, val)`` pairs by :func:`fold_indices`.
"""

from __future__ import annotations

from collections.abc import Iterator

import jax
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

Split = tuple[np.ndarray, np.ndarray]


def _fraction(val_fraction: float) -> None:
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction}, expected a value in (0, 1).")


def _vector(name: str, values: ArrayLike) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] == 0:
        raise ValueError(f"{name} has shape {values.shape}, expected a non-empty 1-d array.")
    return values


def _permutation(key: PRNGKeyArray, n: int) -> np.ndarray:
    return np.asarray(jax.random.permutation(key, n))


def _pair(val_mask: np.ndarray) -> Split:
    return np.flatnonzero(~val_mask), np.flatnonzero(val_mask)


def random_split(num_examples: int, *, key: PRNGKeyArray, val_fraction: float = 0.2) -> Split:
    """``round(val_fraction * n)`` examples drawn uniformly for validation, the rest for training.

    >>> train, val = random_split(10, key=jax.random.key(0), val_fraction=0.3)
    >>> len(train), len(val), sorted(set(train) | set(val)) == list(range(10))
    (7, 3, True)
    """
    _fraction(val_fraction)
    if num_examples < 2:
        raise ValueError(f"num_examples={num_examples}, expected >= 2 to split.")
    n_val = min(max(1, round(val_fraction * num_examples)), num_examples - 1)
    mask = np.zeros(num_examples, bool)
    mask[_permutation(key, num_examples)[:n_val]] = True
    return _pair(mask)


def stratified_split(labels: ArrayLike, *, key: PRNGKeyArray, val_fraction: float = 0.2) -> Split:
    """Like :func:`random_split` but each class keeps its share in both parts.

    Each class puts ``round(val_fraction * count)`` of its examples in validation (rare
    classes: at least one where the class has two or more examples).

    >>> train, val = stratified_split([0] * 8 + [1] * 2, key=jax.random.key(0), val_fraction=0.5)
    >>> sorted(int(i >= 8) for i in val)
    [0, 0, 0, 0, 1]
    """
    _fraction(val_fraction)
    labels = _vector("labels", labels)
    mask = np.zeros(labels.shape[0], bool)
    for i, c in enumerate(np.unique(labels)):
        members = np.flatnonzero(labels == c)
        order = members[_permutation(jax.random.fold_in(key, i), members.size)]
        n_val = round(val_fraction * members.size)
        if members.size >= 2:
            n_val = min(max(n_val, 1), members.size - 1)
        mask[order[:n_val]] = True
    return _pair(mask)


def group_split(groups: ArrayLike, *, key: PRNGKeyArray, val_fraction: float = 0.2) -> Split:
    """Whole groups go to validation, in random order, until it holds ``val_fraction``.

    ``groups[i]`` names the object example ``i`` comes from; no group is ever split.

    >>> groups = ["a", "a", "b", "b", "b", "c"]
    >>> train, val = group_split(groups, key=jax.random.key(0), val_fraction=0.3)
    >>> {groups[i] for i in train}.isdisjoint({groups[i] for i in val})
    True
    """
    _fraction(val_fraction)
    groups = _vector("groups", groups)
    names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if names.size < 2:
        raise ValueError(f"groups has {names.size} distinct group, expected >= 2 to split.")
    order = _permutation(key, names.size)
    target = val_fraction * groups.shape[0]
    # Take groups until the target is reached, keeping at least one group for training.
    taken = np.cumsum(counts[order]) - counts[order] < target
    taken[-1] = False
    taken[0] = True
    return _pair(np.isin(inverse, order[taken]))


def kfold_ids(num_examples: int, *, num_folds: int, key: PRNGKeyArray) -> np.ndarray:
    """A fold id in ``[0, num_folds)`` per example, folds as equal as possible, at random."""
    _folds(num_folds, num_examples)
    ids = np.empty(num_examples, np.int32)
    ids[_permutation(key, num_examples)] = np.arange(num_examples) % num_folds
    return ids


def stratified_kfold_ids(labels: ArrayLike, *, num_folds: int, key: PRNGKeyArray) -> np.ndarray:
    """Fold ids such that every fold holds each class within one example of its share."""
    labels = _vector("labels", labels)
    _folds(num_folds, labels.shape[0])
    ids = np.empty(labels.shape[0], np.int32)
    start = 0  # continue the round-robin across classes so fold sizes stay balanced too
    for i, c in enumerate(np.unique(labels)):
        members = np.flatnonzero(labels == c)
        order = members[_permutation(jax.random.fold_in(key, i), members.size)]
        ids[order] = (start + np.arange(members.size)) % num_folds
        start += members.size
    return ids


def group_kfold_ids(groups: ArrayLike, *, num_folds: int, key: PRNGKeyArray) -> np.ndarray:
    """Fold ids with each group in exactly one fold; largest groups first into the
    currently smallest fold (ties between equal groups broken at random)."""
    groups = _vector("groups", groups)
    names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    _folds(num_folds, names.size, what="distinct groups")
    shuffled = _permutation(key, names.size)
    order = shuffled[np.argsort(-counts[shuffled], kind="stable")]
    sizes = np.zeros(num_folds, np.int64)
    group_fold = np.empty(names.size, np.int32)
    for g in order:
        f = int(np.argmin(sizes))
        group_fold[g] = f
        sizes[f] += counts[g]
    return group_fold[inverse]


def fold_indices(fold_ids: ArrayLike) -> Iterator[Split]:
    """``(train, val)`` for each fold: fold ``f`` validates, all the others train."""
    fold_ids = _vector("fold_ids", fold_ids)
    for f in np.unique(fold_ids):
        yield _pair(fold_ids == f)


def time_series_splits(
    times: ArrayLike, *, num_folds: int = 5, gap: int = 0, min_train: int | None = None
) -> list[Split]:
    """Forward chaining: fold ``i`` trains on everything before block ``i`` and validates on it.

    Examples are ordered by ``times`` (any sortable values; pass ``np.arange(n)`` for data
    already in order) and cut into ``num_folds + 1`` contiguous blocks, or ``num_folds``
    blocks after the first ``min_train`` examples. A cut never separates equal times, so
    every training time is strictly earlier than every validation time. ``gap`` drops that
    many examples just before each validation block (an embargo against leakage through
    features that look back in time).

    >>> [(len(t), len(v)) for t, v in time_series_splits(range(10), num_folds=3)]
    [(2, 3), (5, 2), (7, 3)]
    """
    times = _vector("times", times)
    n = times.shape[0]
    _folds(num_folds, n)
    if gap < 0:
        raise ValueError(f"gap={gap}, expected >= 0.")
    order = np.argsort(times, kind="stable")
    sorted_times = times[order]
    first = n // (num_folds + 1) if min_train is None else min_train
    if not 1 <= first < n:
        raise ValueError(f"min_train={min_train}, expected 1 <= min_train < {n}.")
    cuts = first + np.round(np.arange(num_folds + 1) * (n - first) / num_folds).astype(int)
    # Move each cut back to the start of its run of equal times.
    cuts = np.searchsorted(sorted_times, sorted_times[np.minimum(cuts, n - 1)], side="left")
    cuts[-1] = n
    splits = []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        train_end = max(0, lo - gap)
        if hi <= lo or train_end == 0:
            raise ValueError(
                f"fold [{lo}, {hi}) is empty or has no training data before it; use fewer "
                "folds, a smaller gap, or more distinct times."
            )
        splits.append((np.sort(order[:train_end]), np.sort(order[lo:hi])))
    return splits


def _folds(num_folds: int, available: int, *, what: str = "examples") -> None:
    if not 2 <= num_folds <= available:
        raise ValueError(f"num_folds={num_folds}, expected 2 <= num_folds <= {available} {what}.")
