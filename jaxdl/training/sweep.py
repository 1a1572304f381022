"""Sweeps: a grid or explicit rows of runs described by a frozen dataclass, grouped into
vmappable stacks, and their results as a table.

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


def expand_rows(
    base: T, rows: Sequence[Mapping[str, Any]], grid: Mapping[str, Sequence[Any]] | None = None
) -> list[T]:
    """Each row of ``rows`` over the dataclass ``base``, crossed with ``grid``.

    Row ``i`` is ``dataclasses.replace(base, **rows[i])``, so the dataclass validates it;
    with a ``grid`` every row is expanded by :func:`expand_grid` (rows vary slowest).
    Unlike a grid, rows need not share their values: a table such as "batch 16, hidden
    10 / batch 32, hidden 100" is two rows, not the four runs of a grid.

    Args:
      base: a dataclass instance with the values the rows do not set.
      rows: ``[{field: value}, ...]``; an empty ``rows`` is ``expand_grid(base, grid)``.
      grid: ``{field: [values]}`` applied to every row, e.g. ``{"seed": [0, 1]}``.

    Returns:
      ``len(rows) * prod(len(v) for v in grid.values())`` instances, row by row.

    Raises:
      TypeError: ``base`` is not a dataclass instance, or a row is not a mapping.
      ValueError: a row sets a field ``base`` does not have, or one the grid varies.

    Example:
      >>> @dataclasses.dataclass(frozen=True)
      ... class Spec:
      ...     width: int = 8
      ...     seed: int = 0
      >>> runs = expand_rows(Spec(), [{"width": 4}, {"width": 16}], {"seed": [0, 1]})
      >>> [(s.width, s.seed) for s in runs]
      [(4, 0), (4, 1), (16, 0), (16, 1)]
    """
    grid = dict(grid or {})
    if not rows:
        return expand_grid(base, grid)
    if not dataclasses.is_dataclass(base) or isinstance(base, type):
        raise TypeError(f"base is a {type(base).__name__}, expected a dataclass instance.")
    fields = [f.name for f in dataclasses.fields(base)]
    runs = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"rows[{i}] is a {type(row).__name__}, expected a mapping of fields.")
        unknown = [k for k in row if k not in fields]
        if unknown:
            raise ValueError(
                f"rows[{i}] sets {unknown}, expected fields of {type(base).__name__}: "
                f"{', '.join(fields)}."
            )
        both = [k for k in row if k in grid]
        if both:
            raise ValueError(
                f"rows[{i}] sets {both}, which the grid varies too; expected each field in "
                "either the rows or the grid."
            )
        runs += expand_grid(dataclasses.replace(base, **row), grid)
    return runs


def swept_fields(
    rows: Sequence[Mapping[str, Any]], grid: Mapping[str, Sequence[Any]] | None = None
) -> list[str]:
    """The fields set by ``rows`` (first seen first), then those ``grid`` varies.

    Example:
      >>> swept_fields([{"a": 1, "b": 2}, {"c": 3, "a": 4}], {"seed": [0, 1]})
      ['a', 'b', 'c', 'seed']
    """
    names = {k: None for row in rows for k in row}
    return list(names | dict.fromkeys(grid or {}))


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
