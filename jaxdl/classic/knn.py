"""k-nearest-neighbour classification with batched distances, top-k and a vmapped k sweep.

Distances come from one matmul per query chunk, ``|q|^2 - 2 q.x + |x|^2``, which is what
makes brute force fast: the work is a GEMM instead of an (queries, train, features)
difference tensor. Only the ``k_max`` nearest neighbours are kept (``lax.top_k``); votes
for every k up to ``k_max`` then cost nothing extra, so a sweep over k is one vmap over
the same neighbour table.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank


def default_k(num_train: int) -> int:
    """The notes' rule of thumb ``k = log N`` (natural log, rounded, odd, at least 1).

    Odd so that two-class votes cannot tie.

    >>> default_k(60_000)
    11
    """
    if num_train < 1:
        raise ValueError(f"num_train={num_train}, expected >= 1.")
    k = max(1, round(math.log(num_train)))
    return k if k % 2 else k + 1


def squared_distances(
    queries: Float[ArrayLike, " q d"], points: Float[ArrayLike, " n d"]
) -> Float[Array, " q n"]:
    """Squared Euclidean distances between every query and every point, via one matmul.

    ``|q - x|^2 = |q|^2 - 2 q.x + |x|^2``; clipped at 0 because rounding can make the
    expansion slightly negative for (near-)identical vectors.

    >>> squared_distances(jnp.array([[0.0, 0.0]]), jnp.array([[3.0, 4.0], [0.0, 1.0]]))
    Array([[25.,  1.]], dtype=float32)
    """
    q, x = jnp.asarray(queries), jnp.asarray(points)
    check_rank("queries", q, rank=2)
    check_rank("points", x, rank=2)
    if q.shape[1] != x.shape[1]:
        raise ValueError(
            f"queries has shape {q.shape}, expected (q, {x.shape[1]}) to match points {x.shape}."
        )
    cross = jnp.matmul(q, x.T, precision=jax.lax.Precision.HIGHEST)
    d = jnp.sum(q * q, axis=1)[:, None] - 2.0 * cross + jnp.sum(x * x, axis=1)[None, :]
    return jnp.maximum(d, 0.0)


def _chunks(x: jax.Array, chunk: int) -> tuple[jax.Array, int]:
    pad = (-x.shape[0]) % chunk
    x = jnp.pad(x, ((0, pad),) + ((0, 0),) * (x.ndim - 1))
    return x.reshape(-1, chunk, *x.shape[1:]), pad


def nearest_neighbours(
    queries: Float[ArrayLike, " q d"],
    points: Float[ArrayLike, " n d"],
    *,
    k: int,
    chunk_size: int = 1024,
) -> tuple[Float[Array, " q k"], Int[Array, " q k"]]:
    """The ``k`` nearest points of each query: (squared distances, indices), nearest first.

    Queries are processed ``chunk_size`` at a time (``lax.map``), so memory is
    ``chunk_size * n`` floats, not ``q * n``.

    >>> d, i = nearest_neighbours(jnp.array([[0.0], [9.0]]), jnp.arange(5.0)[:, None], k=2)
    >>> i.tolist()
    [[0, 1], [4, 3]]
    """
    q, x = jnp.asarray(queries, jnp.float32), jnp.asarray(points, jnp.float32)
    check_rank("queries", q, rank=2)
    check_rank("points", x, rank=2)
    if not 1 <= k <= x.shape[0]:
        raise ValueError(f"k={k}, expected 1 <= k <= number of points ({x.shape[0]}).")
    chunk = max(1, min(chunk_size, q.shape[0]))
    blocks, pad = _chunks(q, chunk)
    x_sq = jnp.sum(x * x, axis=1)

    def one(block):
        # |x|^2 - 2 q.x ranks the points like the full distance (|q|^2 is per row);
        # add |q|^2 back only for the k kept.
        partial = x_sq[None, :] - 2.0 * jnp.matmul(block, x.T)
        neg, idx = jax.lax.top_k(-partial, k)
        d = jnp.maximum(-neg + jnp.sum(block * block, axis=1, keepdims=True), 0.0)
        return d, idx

    d, idx = jax.lax.map(one, blocks)
    d, idx = d.reshape(-1, k), idx.reshape(-1, k)
    n = q.shape[0]
    return d[:n], idx[:n]


def vote(
    neighbour_labels: Int[ArrayLike, " q k"],
    *,
    num_classes: int,
    k: int | jax.Array | None = None,
    distances: Float[ArrayLike, " q k"] | None = None,
) -> Int[Array, " q"]:
    """Majority vote over the first ``k`` columns (all if None); ties go to the nearer class.

    Without ``distances`` every neighbour counts 1 and a tie goes to the tied class whose
    nearest member is nearest (scikit-learn takes the smallest label instead). With
    ``distances`` (squared, as :func:`nearest_neighbours` returns them) each neighbour
    counts ``1 / distance`` (scikit-learn's ``weights="distance"``); neighbours at distance
    0 then take the whole vote. ``k`` may be a traced integer, which is what lets a sweep
    over k be one ``vmap``.

    >>> vote(jnp.array([[2, 1, 1, 0], [0, 2, 0, 2]]), num_classes=3).tolist()
    [1, 0]
    >>> vote(jnp.array([[2, 1, 1]]), num_classes=3, distances=jnp.array([[1.0, 9.0, 9.0]])).tolist()
    [2]
    """
    labels = jnp.asarray(neighbour_labels)
    check_rank("neighbour_labels", labels, rank=2)
    width = labels.shape[1]
    k = width if k is None else k
    rank = jnp.arange(width)
    used = rank < k
    onehot = jax.nn.one_hot(labels, num_classes) * used[None, :, None]  # (q, k, c)
    if distances is None:
        counts = jnp.sum(onehot, axis=1)
        first = jnp.min(jnp.where(onehot > 0, rank[None, :, None], width), axis=1)
        # Integer-valued, so exact in float32: more votes first, then the earlier member.
        return jnp.argmax(counts * (width + 1) - first, axis=-1)
    dist = jnp.sqrt(jnp.asarray(distances, jnp.float32))
    if dist.shape != labels.shape:
        raise ValueError(
            f"distances has shape {dist.shape}, expected neighbour_labels' {labels.shape}."
        )
    exact = (dist == 0) & used
    inverse = jnp.where(used, 1.0 / jnp.where(dist > 0, dist, 1.0), 0.0)
    weight = jnp.where(jnp.any(exact, axis=1, keepdims=True), exact * 1.0, inverse)
    return jnp.argmax(jnp.sum(onehot * weight[..., None], axis=1), axis=-1)


@functools.partial(jax.jit, static_argnames=("num_classes", "k", "weighted", "chunk_size"))
def knn_predict(
    train_x: Float[ArrayLike, " n d"],
    train_y: Int[ArrayLike, " n"],
    queries: Float[ArrayLike, " q d"],
    *,
    num_classes: int,
    k: int | None = None,
    weighted: bool = False,
    chunk_size: int = 1024,
) -> Int[Array, " q"]:
    """Labels of ``queries`` by majority vote of their ``k`` nearest training points.

    ``k`` defaults to :func:`default_k` (``log N``); ``weighted`` weighs votes by inverse
    distance. Jitted; ``num_classes``, ``k``, ``weighted`` and ``chunk_size`` are static.

    >>> x = jnp.array([[0.0], [1.0], [10.0], [11.0]]); y = jnp.array([0, 0, 1, 1])
    >>> knn_predict(x, y, jnp.array([[0.5], [10.4]]), num_classes=2, k=3).tolist()
    [0, 1]
    """
    train_y = jnp.asarray(train_y)
    check_rank("train_y", train_y, rank=1)
    k = default_k(train_y.shape[0]) if k is None else k
    d, idx = nearest_neighbours(queries, train_x, k=k, chunk_size=chunk_size)
    return vote(train_y[idx], num_classes=num_classes, distances=d if weighted else None)


def knn_sweep_accuracy(
    train_x: Float[ArrayLike, " n d"],
    train_y: Int[ArrayLike, " n"],
    queries: Float[ArrayLike, " q d"],
    query_y: Int[ArrayLike, " q"],
    ks: Int[ArrayLike, " m"],
    *,
    num_classes: int,
    weighted: bool = False,
    chunk_size: int = 1024,
) -> Float[Array, " m"]:
    """Accuracy on ``(queries, query_y)`` for every k in ``ks``, from one neighbour search.

    The neighbours are found once for ``max(ks)``; the votes for all k run in one vmap.

    >>> x = jnp.array([[0.0], [1.0], [2.0], [10.0]]); y = jnp.array([0, 0, 0, 1])
    >>> knn_sweep_accuracy(x, y, jnp.array([[9.0]]), jnp.array([1]), jnp.array([1, 3]),
    ...                    num_classes=2).tolist()
    [1.0, 0.0]
    """
    ks = jnp.asarray(ks)
    check_rank("ks", ks, rank=1)
    k_max = int(jnp.max(ks))  # needs concrete ks: the table width is a shape
    return _sweep(train_x, train_y, queries, query_y, ks, k_max=k_max, num_classes=num_classes,
                  weighted=weighted, chunk_size=chunk_size)  # fmt: skip


@functools.partial(jax.jit, static_argnames=("k_max", "num_classes", "weighted", "chunk_size"))
def _sweep(train_x, train_y, queries, query_y, ks, *, k_max, num_classes, weighted, chunk_size):
    train_y, query_y = jnp.asarray(train_y), jnp.asarray(query_y)
    d, idx = nearest_neighbours(queries, train_x, k=k_max, chunk_size=chunk_size)
    labels = train_y[idx]
    dist = d if weighted else None
    preds = jax.vmap(lambda k: vote(labels, num_classes=num_classes, k=k, distances=dist))(ks)
    return jnp.mean(preds == query_y[None, :], axis=1)
