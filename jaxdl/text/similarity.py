"""Cosine nearest neighbours and analogies over a matrix of word vectors."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Float

__all__ = ["analogy", "nearest"]


def _unit(x: Float[ArrayLike, "n dim"]) -> jnp.ndarray:
    x = jnp.asarray(x, jnp.float32)
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def nearest(
    queries: Float[ArrayLike, "q dim"],
    vectors: Float[ArrayLike, "n dim"],
    words: Sequence[str],
    *,
    k: int = 5,
    exclude: Sequence[Sequence[str]] = (),
) -> list[list[tuple[str, float]]]:
    """The ``k`` words of ``vectors`` (row ``i`` is ``words[i]``) most cosine-similar to
    each query, with their similarities; ``exclude[q]`` lists words never returned for
    query ``q`` (the query word itself, say).

    Example:
      >>> nearest([[1.0, 0.0]], [[1.0, 0.1], [0.0, 1.0], [-1.0, 0.0]], ["a", "b", "c"], k=2)
      [[('a', 0.995), ('b', 0.0)]]
    """
    if np.shape(vectors)[0] != len(words):
        raise ValueError(
            f"vectors must have one row per word; got {np.shape(vectors)[0]} rows for "
            f"{len(words)} words."
        )
    sims = np.array(_unit(queries) @ _unit(vectors).T)  # (q, n), writable
    index = {w: i for i, w in enumerate(words)}
    out = []
    for q, row in enumerate(sims):
        for w in exclude[q] if q < len(exclude) else ():
            if w in index:
                row[index[w]] = -np.inf
        top = np.argsort(-row, kind="stable")[:k]
        out.append([(words[i], round(float(row[i]), 3)) for i in top])
    return out


def analogy(
    a: str, b: str, c: str, vectors: Float[ArrayLike, "n dim"], words: Sequence[str], *, k: int = 5
) -> list[tuple[str, float]]:
    """``a`` is to ``b`` as ``c`` is to ...: the words nearest ``b - a + c`` (3CosAdd on unit
    vectors), leaving out the three given words."""
    index = {w: i for i, w in enumerate(words)}
    missing = [w for w in (a, b, c) if w not in index]
    if missing:
        raise ValueError(f"analogy words must be in words; got {missing}, which are not.")
    unit = np.asarray(_unit(vectors))
    query = unit[index[b]] - unit[index[a]] + unit[index[c]]
    return nearest(query[None], unit, words, k=k, exclude=[(a, b, c)])[0]
