"""Seeded host-side minibatching over in-memory numpy arrays."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

__all__ = ["batches", "num_batches"]

Arrays = Mapping[str, np.ndarray] | tuple[np.ndarray, ...]


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    try:
        size = operator.index(batch_size)
    except TypeError:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.") from None
    if size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    return size


def num_batches(n: int, batch_size: int, drop_remainder: bool = True) -> int:
    """Returns how many batches ``batches`` yields per epoch for ``n`` examples.

    Args:
        n: Number of examples, ``>= 0``.
        batch_size: Examples per batch, a positive int.
        drop_remainder: Whether a last, partial batch is dropped (as ``batches`` does).

    Returns:
        ``n // batch_size`` with ``drop_remainder``, else ``ceil(n / batch_size)``.

    Raises:
        ValueError: If ``n`` is negative or ``batch_size`` is not a positive int.

    Example:
        >>> num_batches(10, 4), num_batches(10, 4, drop_remainder=False)
        (2, 3)
    """
    batch_size = _check_batch_size(batch_size)
    if n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}.")
    return n // batch_size if drop_remainder else -(-n // batch_size)


def _rebuild(arrays: Arrays, leaves: Sequence[np.ndarray]) -> Any:
    """Packs ``leaves`` into the same container type as ``arrays``."""
    if isinstance(arrays, Mapping):
        return dict(zip(arrays.keys(), leaves, strict=True))
    if hasattr(arrays, "_fields"):  # namedtuple
        return type(arrays)._make(leaves)
    return tuple(leaves)


def batches(
    arrays: Arrays,
    batch_size: int,
    *,
    key: jax.Array | None = None,
    shuffle: bool = True,
    drop_remainder: bool = True,
) -> Iterator[Any]:
    """Iterates once (one epoch) over minibatches of aligned arrays.

    Arguments are validated eagerly, at call time, not at the first ``next()``.

    Args:
        arrays: Dict (or other mapping) or tuple of arrays sharing the leading dim N.
        batch_size: Examples per batch; must be positive.
        key: PRNG key that fixes the example order through ``jax.random.permutation``;
            required if ``shuffle``, ignored otherwise.
        shuffle: Visit examples in a random order rather than index order.
        drop_remainder: Skip the last batch if it has fewer than ``batch_size`` examples.

    Yields:
        The same structure as ``arrays`` (a dict for mappings, a tuple or namedtuple for
        tuples), each leaf of shape (batch_size, ...), or smaller for a final partial batch.

    Raises:
        ValueError: If ``arrays`` is empty, a leaf is a scalar, the leading dims differ,
            ``batch_size`` is not positive, or ``shuffle`` is set without a ``key``.
        TypeError: If ``arrays`` is neither a mapping nor a tuple.
    """
    if isinstance(arrays, Mapping):
        names = [repr(k) for k in arrays]
        leaves = [np.asarray(v) for v in arrays.values()]
    elif isinstance(arrays, tuple):
        names = [str(i) for i in range(len(arrays))]
        leaves = [np.asarray(v) for v in arrays]
    else:
        raise TypeError(f"arrays must be a mapping or a tuple, got {type(arrays).__name__}.")
    if not leaves:
        raise ValueError("arrays must hold at least one array, got an empty container.")
    batch_size = _check_batch_size(batch_size)
    if shuffle and key is None:
        raise ValueError("key must be a PRNG key when shuffle=True, got None.")
    for name, leaf in zip(names, leaves, strict=True):
        if leaf.ndim == 0:
            raise ValueError(f"arrays[{name}] must have a leading batch dim, got a scalar.")
    lengths = {name: len(leaf) for name, leaf in zip(names, leaves, strict=True)}
    if len(set(lengths.values())) != 1:
        got = ", ".join(f"{name}: {length}" for name, length in lengths.items())
        raise ValueError(f"arrays must share one leading dim, got {got}.")
    n = len(leaves[0])
    # Drawn on the host from the explicit key so the order is reproducible across runs.
    order = np.asarray(jax.random.permutation(key, n)) if shuffle else None
    return _generate(arrays, leaves, order, n, batch_size, drop_remainder)


def _generate(
    arrays: Arrays,
    leaves: Sequence[np.ndarray],
    order: np.ndarray | None,
    n: int,
    batch_size: int,
    drop_remainder: bool,
) -> Iterator[Any]:
    for b in range(num_batches(n, batch_size, drop_remainder)):
        start, stop = b * batch_size, min((b + 1) * batch_size, n)
        # Unshuffled batches are slices (views); shuffled ones need a gather (copies).
        index = slice(start, stop) if order is None else order[start:stop]
        yield _rebuild(arrays, [leaf[index] for leaf in leaves])
