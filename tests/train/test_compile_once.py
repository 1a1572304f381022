"""Compile once (issue 25): a second run of the same quick config, and the resume of a
killed one, load their programs from the persistent cache instead of compiling them.

The numbers come from the runs' own records: ``summary.json``'s ``compilation`` (every
compilation of the process: tracing, lowering, XLA or loading from the cache); the
epochs' ``compile_s`` in ``metrics.jsonl`` (the training chunks only) are printed. Only
XLA's part is cached: tracing and lowering (about 4 s of the quick run's programs on an
idle 2-core machine) are paid again, so the ratio is about 10% there. Runs that are
compared run at the same time, so that the other load of a shared machine (which
changes from minute to minute) slows both alike: a cold run into a fresh cache beside a
warm run and a resume on a cache that an earlier run filled.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from jaxdl.training import compile_cache
from tests.reliability import harness

#: 3 epochs of 2 chunks, so that a run killed in epoch 2 has a checkpoint to resume from.
EPOCHS = "--config.num_epochs=3"


def start(workdir, cache, data_dir, *, fault=None, log=None) -> subprocess.Popen:
    """``python -m train fashion_mnist --config=quick`` with its cache in ``cache``, as
    a user runs it: XLA's default optimisation, not the suite's cheaper level 0
    (conftest.py), at which compiling is cheap next to tracing, which no cache skips."""
    env = harness._env(fault, log)
    env[compile_cache.ENV] = str(cache)
    env["XLA_FLAGS"] = re.sub(r"--xla_backend_optimization_level=\S*", "", env.get("XLA_FLAGS", ""))
    cmd = [sys.executable, "-m", "train", "fashion_mnist", "--config=quick"]
    cmd += [f"--workdir={workdir}", f"--config.data_dir={data_dir}", EPOCHS]
    return subprocess.Popen(
        cmd, env=env, cwd=harness.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen, code: int = 0) -> str:
    out, err = process.communicate(timeout=900)
    assert process.returncode == code, err[-3000:]
    return out


def compilation(workdir) -> tuple[dict, float]:
    """The summary's compilation record and the sum of the epochs' ``compile_s``."""
    summary = json.loads((workdir / "summary.json").read_text())
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return summary["compilation"], sum(json.loads(x).get("compile_s", 0.0) for x in lines)


@pytest.mark.slow
def test_a_second_run_and_a_resume_load_their_programs_from_the_cache(tmp_path, tiny_fmnist):
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    log = tmp_path / "events.log"
    # Fill `warm`; then a run killed in epoch 2 (after its 3rd chunk, epoch 1 saved).
    finish(start(tmp_path / "filler", warm, tiny_fmnist))
    finish(start(tmp_path / "resumed", warm, tiny_fmnist, fault="chunk:3", log=log), -9)
    # At once: a first run into a fresh cache, a second run and the resume.
    runs = {
        "first": start(tmp_path / "first", cold, tiny_fmnist),
        "second": start(tmp_path / "second", warm, tiny_fmnist),
        "resumed": start(tmp_path / "resumed", warm, tiny_fmnist, log=log),
    }
    out = {name: finish(p) for name, p in runs.items()}
    assert [e for e in harness.events(log) if e[0] == "restore"]
    got = {name: compilation(tmp_path / name) for name in runs}
    for name, (stats, epochs) in got.items():
        print(f"{name}: {stats}, epochs' compile_s {epochs:.2f}")
    first, _ = got["first"]
    assert first["cache_dir"] == str(cold.resolve())
    assert first["cache_hits"] == 0 and first["cache_writes"] > 0
    for name in ("second", "resumed"):
        stats, _ = got[name]
        assert stats["cache_dir"] == str(warm.resolve())
        assert stats["cache_writes"] == 0 and stats["cache_hits"] > 0, name  # nothing compiled
        # Issue 25's bar, on what the cache can skip: XLA's compile (or, on a hit, the
        # load). The whole (tracing and lowering too, paid again on every run) stays
        # under 20% on an idle machine (10.4% measured) but came out at 21% once in CI
        # beside other jobs, so it gets a looser guard against regressions.
        assert stats["backend_s"] < 0.2 * first["backend_s"], name
        assert stats["compile_s"] < 0.4 * first["compile_s"], name
        assert f"compiled in {stats['compile_s']:.1f} s" in out[name]
