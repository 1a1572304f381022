"""k-means: greedy k-means++ seeding, Lloyd iterations, restarts vmapped over keys.

This is the offline teacher of the HuBERT note (cluster features, use the cluster ids as
targets). Everything is one jitted program: seeding is a ``fori_loop`` over centres,
Lloyd's algorithm a ``while_loop`` that stops when the centres move less than ``tol``,
and ``n_init`` restarts are a ``vmap`` over keys whose best (lowest inertia) run wins.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from jaxdl._checks import check_rank
from jaxdl.classic.knn import squared_distances


class KMeansResult(NamedTuple):
    centres: Float[Array, "... k d"]
    labels: Int[Array, "... n"]
    inertia: Float[Array, "..."]  # sum of squared distances to the assigned centre
    num_iters: Int[Array, "..."]


@functools.partial(jax.jit, static_argnames=("num_clusters", "num_trials"))
def kmeans_plus_plus(
    x: Float[ArrayLike, " n d"],
    *,
    num_clusters: int,
    key: PRNGKeyArray,
    num_trials: int | None = None,
) -> Float[Array, " k d"]:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, as scikit-learn does it).

    The first centre is a uniform draw; each next one is the best (lowest resulting
    potential) of ``num_trials`` candidates drawn with probability proportional to the
    squared distance to the nearest centre so far. ``num_trials`` defaults to
    ``2 + int(log k)``.

    >>> x = jnp.array([[0.0], [0.1], [10.0], [10.1]])
    >>> c = kmeans_plus_plus(x, num_clusters=2, key=jax.random.key(0))
    >>> sorted(round(float(v)) for v in c[:, 0])
    [0, 10]
    """
    x = jnp.asarray(x, jnp.float32)
    check_rank("x", x, rank=2)
    n = x.shape[0]
    if not 1 <= num_clusters <= n:
        raise ValueError(f"num_clusters={num_clusters}, expected 1 <= num_clusters <= n ({n}).")
    trials = num_trials or 2 + int(math.log(num_clusters))
    key, first = jax.random.split(key)
    c0 = x[jax.random.randint(first, (), 0, n)]
    centres = jnp.zeros((num_clusters, x.shape[1]), x.dtype).at[0].set(c0)
    closest = squared_distances(c0[None], x)[0]  # (n,)

    def body(i, carry):
        centres, closest = carry
        k = jax.random.fold_in(key, i)
        # Uniform fallback if every point already sits on a centre (all distances 0).
        p = jnp.where(jnp.sum(closest) > 0, closest, 1.0)
        cand = jax.random.choice(k, n, (trials,), p=p / jnp.sum(p))
        d = jnp.minimum(closest[None, :], squared_distances(x[cand], x))  # (trials, n)
        best = jnp.argmin(jnp.sum(d, axis=1))
        return centres.at[i].set(x[cand[best]]), d[best]

    centres, _ = jax.lax.fori_loop(1, num_clusters, body, (centres, closest))
    return centres


def assign(
    x: Float[ArrayLike, " n d"], centres: Float[ArrayLike, " k d"]
) -> tuple[Int[Array, " n"], Float[Array, " n"]]:
    """Index of each point's nearest centre and the squared distance to it."""
    d = squared_distances(x, centres)
    labels = jnp.argmin(d, axis=1)
    return labels, jnp.take_along_axis(d, labels[:, None], axis=1)[:, 0]


@functools.partial(jax.jit, static_argnames=("max_iters",))
def lloyd(
    x: Float[ArrayLike, " n d"],
    centres: Float[ArrayLike, " k d"],
    *,
    max_iters: int = 300,
    tol: float = 1e-4,
) -> KMeansResult:
    """Lloyd's iterations from ``centres`` until they move less than ``tol`` (squared, summed).

    ``tol`` is relative to the mean per-feature variance of ``x``, as in scikit-learn.
    A centre that loses all its points stays where it was.
    """
    x = jnp.asarray(x, jnp.float32)
    centres = jnp.asarray(centres, jnp.float32)
    k = centres.shape[0]
    threshold = tol * jnp.mean(jnp.var(x, axis=0))

    def step(c):
        labels, _ = assign(x, c)
        onehot = jax.nn.one_hot(labels, k, dtype=x.dtype)  # (n, k)
        counts = jnp.sum(onehot, axis=0)
        sums = jnp.matmul(onehot.T, x, precision=jax.lax.Precision.HIGHEST)
        return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], c)

    def cond(carry):
        _, shift, it = carry
        return (shift > threshold) & (it < max_iters)

    def body(carry):
        c, _, it = carry
        new = step(c)
        return new, jnp.sum((new - c) ** 2), it + 1

    c, _, iters = jax.lax.while_loop(cond, body, (centres, jnp.inf, 0))
    labels, d = assign(x, c)
    return KMeansResult(c, labels, jnp.sum(d), iters)


@functools.partial(jax.jit, static_argnames=("num_clusters", "num_restarts", "max_iters"))
def kmeans(
    x: Float[ArrayLike, " n d"],
    *,
    num_clusters: int,
    key: PRNGKeyArray,
    num_restarts: int = 10,
    max_iters: int = 300,
    tol: float = 1e-4,
) -> KMeansResult:
    """k-means with ``num_restarts`` k-means++ restarts run as one vmap; the best one wins.

    Returns the restart with the lowest inertia (sum of squared distances of the points
    to their centres).

    >>> x = jnp.concatenate([jnp.zeros((5, 2)), jnp.ones((5, 2)) * 4])
    >>> r = kmeans(x, num_clusters=2, key=jax.random.key(0), num_restarts=2)
    >>> float(r.inertia), len(set(r.labels.tolist()))
    (0.0, 2)
    """
    x = jnp.asarray(x, jnp.float32)
    check_rank("x", x, rank=2)
    # Centre the data as scikit-learn does: the |a|^2 - 2ab + |b|^2 expansion loses
    # precision when the data sit far from the origin.
    mean = jnp.mean(x, axis=0)
    xc = x - mean

    def one(k):
        init = kmeans_plus_plus(xc, num_clusters=num_clusters, key=k)
        return lloyd(xc, init, max_iters=max_iters, tol=tol)

    runs = jax.vmap(one)(jax.random.split(key, num_restarts))
    best = jnp.argmin(runs.inertia)
    r = jax.tree.map(lambda a: a[best], runs)
    return r._replace(centres=r.centres + mean)
