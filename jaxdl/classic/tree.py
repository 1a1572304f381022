"""Impurities, information gain, and the best split over all features and thresholds at once.

The decision-tree note's purity functions (entropy, Gini) and its greedy rule: split where
the impurity drops most. For one feature, sorting the points and taking a cumulative sum of
their one-hot labels gives the class counts left of every threshold at once, so the best
split of a whole (n, d) matrix is one argsort, one cumsum and one argmax: O(n d log n)
instead of a loop over features and thresholds. A fixed-depth tree is built level by level
with the splits of all nodes of a level found in one vmap (samples are routed by weights,
so shapes never depend on the data and the whole fit is jittable).
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank

Criterion = Literal["gini", "entropy"]


def entropy(counts: Float[ArrayLike, "... c"]) -> Float[Array, "..."]:
    """Shannon entropy in bits of the class distribution given by (weighted) ``counts``.

    ``H = -sum_c p_c log2 p_c`` with ``p = counts / sum(counts)``; 0 for an empty set.

    >>> entropy(jnp.array([5.0, 5.0])), entropy(jnp.array([3.0, 0.0]))
    (Array(1., dtype=float32), Array(0., dtype=float32))
    """
    counts = jnp.asarray(counts, jnp.float32)
    p = counts / jnp.maximum(jnp.sum(counts, axis=-1, keepdims=True), 1e-30)
    return jnp.sum(jnp.where(p > 0, p * -jnp.log2(jnp.where(p > 0, p, 1.0)), 0.0), axis=-1)


def gini(counts: Float[ArrayLike, "... c"]) -> Float[Array, "..."]:
    """Gini impurity ``1 - sum_c p_c^2`` of (weighted) class ``counts``; 0 for an empty set.

    >>> gini(jnp.array([5.0, 5.0]))
    Array(0.5, dtype=float32)
    """
    counts = jnp.asarray(counts, jnp.float32)
    total = jnp.sum(counts, axis=-1)
    p = counts / jnp.maximum(total, 1e-30)[..., None]
    return jnp.where(total > 0, 1.0 - jnp.sum(p**2, axis=-1), 0.0)


_IMPURITY = {"gini": gini, "entropy": entropy}


def information_gain(
    parent: Float[ArrayLike, "... c"],
    left: Float[ArrayLike, "... c"],
    *,
    criterion: Criterion = "entropy",
) -> Float[Array, "..."]:
    """Impurity of ``parent`` minus the size-weighted impurity of its two children.

    ``right = parent - left``. With ``criterion="entropy"`` this is the information gain.

    >>> information_gain(jnp.array([5.0, 5.0]), jnp.array([5.0, 0.0]))  # a perfect split
    Array(1., dtype=float32)
    """
    imp = _impurity(criterion)
    parent, left = jnp.asarray(parent, jnp.float32), jnp.asarray(left, jnp.float32)
    right = parent - left
    n, nl, nr = (jnp.sum(c, axis=-1) for c in (parent, left, right))
    children = (nl * imp(left) + nr * imp(right)) / jnp.maximum(n, 1e-30)
    return imp(parent) - children


def _impurity(criterion: str):
    if criterion not in _IMPURITY:
        raise ValueError(f"criterion={criterion!r}, expected 'gini' or 'entropy'.")
    return _IMPURITY[criterion]


class Split(NamedTuple):
    feature: Int[Array, ""]
    threshold: Float[Array, ""]  # go right when x[feature] > threshold
    gain: Float[Array, ""]  # -inf when no valid split exists (constant features, < 2 points)


@functools.partial(jax.jit, static_argnames=("num_classes", "criterion"))
def best_split(
    x: Float[ArrayLike, " n d"],
    y: Int[ArrayLike, " n"],
    *,
    num_classes: int,
    weights: Float[ArrayLike, " n"] | None = None,
    criterion: Criterion = "gini",
) -> Split:
    """The (feature, threshold) with the largest impurity decrease, over all of them at once.

    Thresholds are midpoints between consecutive distinct values of a feature among the
    points with positive weight (zero-weight points are ignored, which is how a tree
    routes samples to nodes without changing shapes).

    >>> x = jnp.array([[1.0, 5.0], [2.0, 1.0], [3.0, 6.0], [4.0, 2.0]])
    >>> s = best_split(x, jnp.array([1, 0, 1, 0]), num_classes=2)
    >>> int(s.feature), float(s.threshold), float(s.gain)
    (1, 3.5, 0.5)
    """
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y)
    check_rank("x", x, rank=2)
    check_rank("y", y, rank=1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y has shape {y.shape}, expected ({x.shape[0]},) to match x {x.shape}.")
    imp = _impurity(criterion)
    w = jnp.ones(x.shape[0]) if weights is None else jnp.asarray(weights, jnp.float32)
    # Ignored points sort last, so the valid thresholds lie between weighted points only.
    xm = jnp.where(w[:, None] > 0, x, jnp.inf)
    order = jnp.argsort(xm, axis=0)  # (n, d)
    xs = jnp.take_along_axis(xm, order, axis=0)
    counts = jax.nn.one_hot(y, num_classes) * w[:, None]  # (n, c)
    left = jnp.cumsum(counts[order], axis=0)[:-1]  # (n-1, d, c): left of threshold i
    total = jnp.sum(counts, axis=0)
    right = total - left
    nl, nr = jnp.sum(left, -1), jnp.sum(right, -1)
    n = jnp.sum(total)
    gain = imp(total) - (nl * imp(left) + nr * imp(right)) / jnp.maximum(n, 1e-30)
    valid = (xs[:-1] < xs[1:]) & (nl > 0) & (nr > 0)
    gain = jnp.where(valid, gain, -jnp.inf)
    flat = jnp.argmax(gain)
    i, f = jnp.unravel_index(flat, gain.shape)
    threshold = jnp.where(valid[i, f], (xs[i, f] + jnp.where(valid[i, f], xs[i + 1, f], 0)) / 2, 0)
    return Split(f, threshold, gain[i, f])


class Tree(NamedTuple):
    """A complete binary tree in heap order (children of node i are 2i+1 and 2i+2)."""

    feature: Int[Array, " internal"]
    threshold: Float[Array, " internal"]  # +inf where the node did not split
    leaf_probs: Float[Array, " leaves c"]


@functools.partial(jax.jit, static_argnames=("num_classes", "depth", "criterion"))
def fit_tree(
    x: Float[ArrayLike, " n d"],
    y: Int[ArrayLike, " n"],
    *,
    num_classes: int,
    depth: int = 3,
    criterion: Criterion = "gini",
    min_gain: float = 1e-7,
) -> Tree:
    """A greedy classification tree of fixed ``depth``, each level's splits in one vmap.

    A node whose best gain is below ``min_gain`` does not split: its threshold is +inf and
    every sample goes left. An empty leaf predicts like its parent.

    >>> x = jnp.array([[0.0], [1.0], [2.0], [3.0]]); y = jnp.array([0, 1, 1, 0])
    >>> predict_tree(fit_tree(x, y, num_classes=2, depth=2), x).tolist()
    [0, 1, 1, 0]
    """
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y)
    check_rank("x", x, rank=2)
    node = jnp.zeros(x.shape[0], jnp.int32)
    features, thresholds = [], []
    onehot = jax.nn.one_hot(y, num_classes)
    counts = [jnp.sum(onehot, axis=0)[None]]  # per level: (nodes, c)
    for level in range(depth):
        first = 2**level - 1
        ids = first + jnp.arange(2**level)
        splits = jax.vmap(
            lambda i, node=node: best_split(
                x, y, num_classes=num_classes, weights=(node == i), criterion=criterion
            )
        )(ids)
        thr = jnp.where(splits.gain >= min_gain, splits.threshold, jnp.inf)
        features.append(splits.feature)
        thresholds.append(thr)
        local = node - first
        go_right = x[jnp.arange(x.shape[0]), splits.feature[local]] > thr[local]
        node = 2 * node + 1 + go_right
        child = jax.ops.segment_sum(onehot, node - (2 ** (level + 1) - 1), 2 ** (level + 1))
        parent = jnp.repeat(counts[-1], 2, axis=0)
        counts.append(jnp.where(jnp.sum(child, -1, keepdims=True) > 0, child, parent))
    leaves = counts[-1]
    return Tree(
        jnp.concatenate(features) if features else jnp.zeros(0, jnp.int32),
        jnp.concatenate(thresholds) if thresholds else jnp.zeros(0),
        leaves / jnp.sum(leaves, -1, keepdims=True),
    )


def predict_tree(tree: Tree, x: Float[ArrayLike, " n d"]) -> Int[Array, " n"]:
    """Class of each row of ``x``: the majority class of the leaf it falls into."""
    x = jnp.asarray(x, jnp.float32)
    check_rank("x", x, rank=2)
    depth = (tree.leaf_probs.shape[0]).bit_length() - 1
    node = jnp.zeros(x.shape[0], jnp.int32)
    rows = jnp.arange(x.shape[0])
    for _ in range(depth):
        node = 2 * node + 1 + (x[rows, tree.feature[node]] > tree.threshold[node])
    return jnp.argmax(tree.leaf_probs[node - (2**depth - 1)], axis=-1)
