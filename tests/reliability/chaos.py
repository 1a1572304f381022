"""The kill -9 chain shared by the reliability tests: an uninterrupted run, then the same
run killed at three seeded points (one of them inside a checkpoint write) and resumed
until it finishes; both workdirs must agree bit for bit."""

from __future__ import annotations

import itertools
import random

from tests.reliability import harness

#: Checkpoint after every compiled chunk, so a kill costs at most one chunk of steps.
EVERY_CHUNK = ("--config.checkpoint_every_steps=1",)
SWEEP = "tests/reliability/configs/makemore_sweep.py"
#: Every training recipe, as ``(recipe, config, overrides)``: its quick config cut into
#: at least six compiled chunks, so that three kills land inside training. (explain_text,
#: lotka_volterra and optimizers train nothing that a kill could cost: they compute
#: explanations and solver comparisons, or optimiser paths on 2-D surfaces, in seconds.)
RECIPES = {
    "fashion_mnist": ("quick", ()),
    "name_sex": ("quick", ("--config.steps_per_dispatch=2",)),
    "makemore": ("quick", ("--config.chunk_steps=100",)),
    "makemore_sweep": (SWEEP, ()),
    "gcn_karate": ("quick", ()),
    "gnn_lrp": ("quick", ()),
    "neural_ode": ("quick", ()),
    "sequences": ("quick", ()),
    "fewshot": ("quick", ("--config.chunk_steps=1",)),
    "simclr": ("quick", ("--config.steps_per_dispatch=2",)),
    "generative": ("quick", ("--config.steps_per_dispatch=2",)),
    "ddpm": ("quick", ("--config.steps_per_dispatch=1",)),
    "adversarial": ("quick", ("--config.classifier.steps_per_dispatch=2",)),
    "ppo": ("quick", ()),
}


def recipe_chain(name, tmp_path, seed=0):
    """:func:`kill_chain` of one of :data:`RECIPES`."""
    config, overrides = RECIPES[name]
    recipe = "makemore" if name == "makemore_sweep" else name
    return kill_chain(recipe, tmp_path, *overrides, config=config, seed=seed)


def kill_chain(recipe, tmp_path, *overrides, config="quick", seed=0):
    """Runs ``recipe`` straight and with three kills; returns the kill log."""
    overrides = (*EVERY_CHUNK, *overrides)
    straight, chained = tmp_path / "straight", tmp_path / "killed"
    log0 = tmp_path / "straight.log"
    done = harness.cli(recipe, straight, *overrides, config=config, log=log0)
    assert done.returncode == 0, done.stderr[-3000:]
    chunks = [e for e in harness.events(log0) if e[0] == "chunk"]
    assert len(chunks) >= 3, f"{recipe} runs {len(chunks)} chunks; a kill chain needs 3"
    rng = random.Random(seed)
    # Kill 1 after a chunk in the first half; kill 2 inside the resumed run's first
    # checkpoint write; kill 3 after the next run's first or second chunk.
    plan = [f"chunk:{rng.randint(2, max(2, len(chunks) // 2))}", "save:1", "chunk:1"]
    log = tmp_path / "killed.log"
    for fault in plan:
        before = len(harness.events(log))
        process = harness.cli(recipe, chained, *overrides, config=config, fault=fault, log=log)
        assert process.returncode == -9, (fault, process.returncode, process.stderr[-3000:])
        assert len(harness.events(log)) > before
    last = harness.cli(recipe, chained, *overrides, config=config, log=log)
    assert last.returncode == 0, last.stderr[-3000:]
    harness.assert_same_run(straight, chained)
    restores = [e for e in harness.events(log) if e[0] == "restore"]
    assert len(restores) >= 2, f"the resumed runs restored {restores}: nothing was resumed"
    assert_little_lost(harness.events(log), chunks)
    return harness.events(log)


def assert_little_lost(log, chunks, bound=None) -> None:
    """After each kill, the restore starts at most one chunk before the last chunk the
    killed process finished (checkpoints after every chunk)."""
    steps = [b[2] - a[2] for a, b in itertools.pairwise(chunks) if a[1] == b[1]]
    longest = max(steps, default=1) if bound is None else bound
    last_chunk: dict[str, int] = {}
    for kind, stage, position in log:
        if kind == "chunk":
            last_chunk[stage] = position
        elif kind == "restore" and stage in last_chunk:
            assert last_chunk[stage] - position <= longest, (stage, position, last_chunk)
