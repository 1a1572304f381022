"""Grids and rows of runs, their grouping into vmappable stacks and the results table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jaxdl.training import expand_grid, expand_rows, group_by, swept_fields, write_table


@dataclasses.dataclass(frozen=True)
class Spec:
    width: int = 8
    seed: int = 0
    lr: float = 0.1

    def __post_init__(self):
        if self.lr <= 0:
            raise ValueError(f"lr is {self.lr}, expected > 0.")


def test_expand_grid_replaces_fields_last_key_fastest():
    specs = expand_grid(Spec(width=4), {"seed": [0, 1], "lr": [0.1, 0.2]})
    assert [(s.seed, s.lr) for s in specs] == [(0, 0.1), (0, 0.2), (1, 0.1), (1, 0.2)]
    assert all(s.width == 4 for s in specs)
    assert expand_grid(Spec(), {}) == [Spec()]


def test_expand_grid_errors():
    with pytest.raises(ValueError, match=r"grid varies \['depth'\], expected fields of Spec"):
        expand_grid(Spec(), {"depth": [1]})
    with pytest.raises(ValueError, match="lr is -1, expected > 0."):  # the dataclass validates
        expand_grid(Spec(), {"lr": [0.1, -1]})
    with pytest.raises(TypeError, match="expected a dataclass instance"):
        expand_grid({"lr": 0.1}, {"lr": [0.2]})


def test_expand_rows_takes_each_row_then_the_grid():
    rows = [{"width": 4}, {"width": 16, "lr": 0.2}, {}]
    specs = expand_rows(Spec(lr=0.05), rows, {"seed": [0, 1]})
    assert [(s.width, s.lr, s.seed) for s in specs] == [
        (4, 0.05, 0),
        (4, 0.05, 1),
        (16, 0.2, 0),
        (16, 0.2, 1),
        (8, 0.05, 0),
        (8, 0.05, 1),
    ]
    assert expand_rows(Spec(), [{"width": 2}, {"width": 2}]) == [Spec(width=2)] * 2
    assert expand_rows(Spec(), [], {"seed": [3]}) == [Spec(seed=3)]  # no rows: the grid
    assert swept_fields(rows, {"seed": [0, 1]}) == ["width", "lr", "seed"]
    assert swept_fields([], {}) == []


def test_expand_rows_errors_are_one_sentence():
    with pytest.raises(ValueError) as e:
        expand_rows(Spec(), [{"width": 4}, {"num_neurons": 10}])
    assert str(e.value) == "rows[1] sets ['num_neurons'], expected fields of Spec: width, seed, lr."
    with pytest.raises(ValueError, match=r"^rows\[0\] sets \['seed'\], which the grid varies too"):
        expand_rows(Spec(), [{"seed": 1}], {"seed": [0, 1]})
    with pytest.raises(ValueError, match="lr is -1, expected > 0."):  # the dataclass validates
        expand_rows(Spec(), [{"lr": -1}])
    with pytest.raises(TypeError, match=r"rows\[0\] is a int, expected a mapping of fields."):
        expand_rows(Spec(), [3])
    with pytest.raises(TypeError, match="expected a dataclass instance"):
        expand_rows({"lr": 0.1}, [{"lr": 0.2}])


def test_group_by_keeps_first_seen_order():
    specs = expand_grid(Spec(), {"width": [8, 4], "seed": [0, 1]})
    assert group_by(specs, key=lambda s: s.width) == [[0, 1], [2, 3]]


def test_write_table(tmp_path):
    rows = [{"lr": 0.1, "loss": 2.5}, {"lr": 0.2, "loss": 2.25}]
    md, csv = write_table(rows, tmp_path / "sweep")
    assert Path(csv).read_text().splitlines() == ["lr,loss", "0.1,2.5", "0.2,2.25"]
    assert Path(md).read_text().splitlines() == [
        "| lr | loss |",
        "|---|---|",
        "| 0.1 | 2.5 |",
        "| 0.2 | 2.25 |",
    ]
    with pytest.raises(ValueError, match="rows is empty"):
        write_table([], tmp_path / "empty")
