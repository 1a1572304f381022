"""kill -9 at seeded points, then resume: the result equals an uninterrupted run bit for
bit, no record is lost or doubled, a kill costs at most one chunk of steps (issue 20).

``make test`` runs one seeded recipe; ``pytest -m chaos tests/reliability`` runs the small
library run (kills at more points, checkpoints compared leaf by leaf) and every training
recipe."""

from __future__ import annotations

import random

import pytest

from tests.reliability import chaos, harness

TINY = "tests.reliability.tiny_run"
#: Recipes whose quick kill chain takes about a minute; make test draws one of them.
CHEAP = ("fashion_mnist", "name_sex", "gcn_karate", "fewshot")


@pytest.mark.chaos
@pytest.mark.parametrize("seed", [0])
def test_a_small_run_survives_kills_at_seeded_points(tmp_path, seed):
    straight = harness.script(TINY, tmp_path / "straight", log=tmp_path / "straight.log")
    assert straight.returncode == 0, straight.stderr[-3000:]
    chunks = [e for e in harness.events(tmp_path / "straight.log") if e[0] == "chunk"]
    saves = [e for e in harness.events(tmp_path / "straight.log") if e[0] == "save"]
    rng = random.Random(seed)
    plan = [f"chunk:{rng.randint(3, 5)}", f"save:{rng.randint(1, 2)}", "chunk:2"]
    log = tmp_path / "killed.log"
    for fault in plan:
        killed = harness.script(TINY, tmp_path / "killed", fault=fault, log=log)
        assert killed.returncode == -9, (fault, killed.stderr[-3000:])
    last = harness.script(TINY, tmp_path / "killed", log=log)
    assert last.returncode == 0, last.stderr[-3000:]
    assert last.stdout.split()[-1] == straight.stdout.split()[-1]  # the final test loss
    assert harness.records(tmp_path / "straight") == harness.records(tmp_path / "killed")
    cs, ck = (harness.final_checkpoints(tmp_path / d) for d in ("straight", "killed"))
    assert cs.keys() == ck.keys()
    for name in cs:
        assert cs[name][0] == ck[name][0]
        for leaf, value in cs[name][1].items():
            assert (value == ck[name][1][leaf]).all(), leaf
    restores = [e for e in harness.events(log) if e[0] == "restore"]
    assert len(restores) == 3 and len(saves) >= 4
    # tiny_run checkpoints every 4 steps: a kill costs at most those 4.
    chaos.assert_little_lost(harness.events(log), chunks, bound=4)


@pytest.mark.slow
def test_a_seeded_recipe_survives_kills(tmp_path):
    chaos.recipe_chain(random.Random(20).choice(CHEAP), tmp_path)


@pytest.mark.chaos
@pytest.mark.parametrize("name", sorted(chaos.RECIPES))
def test_every_recipe_survives_kills(tmp_path, name):
    chaos.recipe_chain(name, tmp_path)
