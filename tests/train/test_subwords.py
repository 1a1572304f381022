"""The subwords recipe: its quick config through the CLI, and its bad inputs."""

from __future__ import annotations

import json

import pytest

from jaxdl.text import FORTUNES_DIR
from train.__main__ import main, recipes


def test_recipe_is_discovered():
    assert "subwords" in recipes()


@pytest.mark.slow
@pytest.mark.skipif(not FORTUNES_DIR.is_dir(), reason="apt-get install fortunes")
def test_subwords_quick_writes_neighbours_and_figure(tmp_path, capsys):
    assert main(["subwords", "--config=quick", f"--workdir={tmp_path}"]) == 0
    m = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    assert m["tokens"] > 10_000 and m["plural_pairs"] > 10 and m["words_per_s"] > 0
    neighbours = (tmp_path / "neighbours.txt").read_text()
    assert "# unseen words" in neighbours and "computerization:" in neighbours
    assert (tmp_path / "embedding.png").stat().st_size > 0
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "loss" in r] == [1]


@pytest.mark.parametrize(
    ("override", "code", "message"),
    [
        ("--config.corpus=/nonexistent", 1, "apt-get install fortunes"),
        ("--config.minn=7", 2, "got minn=7, maxn=6"),
        ("--config.mesh=data=2", 2, "config.mesh is 'data=2', expected '': the skip-gram run"),
    ],
)
def test_bad_inputs_are_one_sentence(tmp_path, capsys, override, code, message):
    argv = ["subwords", "--config=quick", f"--workdir={tmp_path}", override]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_empty_corpus_is_one_sentence(tmp_path, capsys):
    (tmp_path / "empty").write_text("%\n%\n")
    argv = ["subwords", "--config=quick", f"--workdir={tmp_path / 'run'}"]
    assert main([*argv, f"--config.corpus={tmp_path / 'empty'}"]) == 2
    err = capsys.readouterr().err
    assert "got a corpus of 0 words" in err and err.count("\n") == 1, err
