"""Sweeps: a grid of runs described by a frozen dataclass, grouped into vmappable
stacks, and their results as a table.

Runs that differ only in values that live in the train state as arrays (seed, learning
rate, ...) share one compiled program: :func:`group_by` puts them in one group, their
states are stacked and :func:`jaxdl.training.train` trains the stack with
``vmapped=True``. Runs whose shapes differ go to different groups.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def expand_grid(base: T, grid: Mapping[str, Sequence[Any]]) -> list[T]:
    """Every combination of ``grid``'s values over the dataclass ``base``.

    Each combination is ``dataclasses.replace(base, **values)``, so the dataclass
    validates it; the last key of ``grid`` varies fastest.

    Args:
      base: a dataclass instance with the values the grid does not vary.
      grid: ``{field: [values]}``.

    Returns:
      One instance per combination.

    Raises:
      TypeError: ``base`` is not a dataclass instance.
      ValueError: ``grid`` names a field ``base`` does not have.

    Example:
      >>> @dataclasses.dataclass(frozen=True)
      ... class Spec:
      ...     seed: int = 0
      ...     lr: float = 0.1
      >>> [(s.seed, s.lr) for s in expand_grid(Spec(), {"seed": [0, 1], "lr": [1, 2]})]
      [(0, 1), (0, 2), (1, 1), (1, 2)]
    """
    if not dataclasses.is_dataclass(base) or isinstance(base, type):
        raise TypeError(f"base is a {type(base).__name__}, expected a dataclass instance.")
    fields = [f.name for f in dataclasses.fields(base)]
    unknown = sorted(set(grid) - set(fields))
    if unknown:
        raise ValueError(
            f"grid varies {unknown}, expected fields of {type(base).__name__}: {', '.join(fields)}."
        )
    keys = list(grid)
    combos = itertools.product(*(list(grid[k]) for k in keys))
    return [dataclasses.replace(base, **dict(zip(keys, values, strict=True))) for values in combos]


def group_by(items: Sequence[T], key: Callable[[T], Hashable]) -> list[list[int]]:
    """Indices of ``items`` grouped by ``key(item)``, groups in first-seen order.

    Args:
      items: the items to group.
      key: maps an item to a hashable group key.

    Returns:
      One list of indices into ``items`` per distinct key, each in increasing order.

    Example:
      >>> group_by([3, 10, 4, 12], key=lambda n: n // 10)
      [[0, 2], [1, 3]]
    """
    groups: dict[Hashable, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    return list(groups.values())


def write_table(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike) -> tuple[str, str]:
    """Writes ``rows`` as ``stem.md`` (a markdown table) and ``stem.csv``.

    The columns are the keys of the first row.

    Args:
      rows: one mapping per row, all with the same keys.
      stem: the path of both files without their suffix.

    Returns:
      The paths of the markdown and the CSV file.

    Raises:
      ValueError: ``rows`` is empty.
    """
    if not rows:
        raise ValueError("rows is empty, expected at least one row.")
    stem = os.fspath(stem)
    header = list(rows[0])
    with open(stem + ".csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    return stem + ".md", stem + ".csv"
