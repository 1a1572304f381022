"""Runs recipes from the command line as a user would, kills them with SIGKILL at chosen
points (``jaxdl.training.faults``), and compares what two workdirs hold."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Compiled programs shared by every process a test starts: a resumed run skips the
#: compilation its killed predecessor paid for, as a user's would with the cache on.
#: Under pytest, the session's cache (conftest.py), which the in-process runs share too.
CACHE = os.environ.get("JAX_COMPILATION_CACHE_DIR") or tempfile.mkdtemp(prefix="jaxdl-xla-")
#: Record and summary fields that measure time, not results.
TIMING = re.compile(r"(_per_s|_s|seconds|time|_ms)$|^s_per_")


def cli(recipe, workdir, *overrides, config="quick", fault=None, log=None, timeout=900):
    """``python -m train RECIPE --config=CONFIG --workdir=WORKDIR OVERRIDES``; returns
    the finished process (``returncode`` -9 when the fault killed it)."""
    env = _env(fault, log)
    cmd = [sys.executable, "-m", "train", recipe, f"--config={config}", f"--workdir={workdir}"]
    return subprocess.run(
        [*cmd, *overrides], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def script(module, *args, fault=None, log=None, timeout=600):
    """``python -m MODULE ARGS`` with the same environment as :func:`cli`."""
    env = _env(fault, log)
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _env(fault, log):
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JAX_COMPILATION_CACHE_DIR=CACHE,
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    for name in ("JAXDL_DEBUG", "JAXDL_FAULT", "JAXDL_FAULT_LOG"):
        env.pop(name, None)
    if fault:
        env["JAXDL_FAULT"] = fault
    if log:
        env["JAXDL_FAULT_LOG"] = str(log)
    return env


def events(log) -> list[tuple[str, str, int]]:
    """The fault log's ``(kind, stage, position)`` lines."""
    path = pathlib.Path(log)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, stage, position = line.split()
        out.append((kind, stage, int(position)))
    return out


def _untimed(record: dict) -> dict:
    return {k: v for k, v in record.items() if not TIMING.search(k)}


def records(workdir) -> list[dict]:
    """The records of ``workdir/metrics.jsonl`` (none when there is no file), timing aside."""
    path = pathlib.Path(workdir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [_untimed(json.loads(x)) for x in path.read_text().splitlines()]


def summary(workdir) -> dict:
    data = json.loads((pathlib.Path(workdir) / "summary.json").read_text())
    return {"metrics": _untimed(data["metrics"]), "config": data["config"]}


def final_checkpoints(workdir) -> dict[str, tuple[int, dict[str, np.ndarray]]]:
    """``{folder: (newest key, {leaf: array})}`` of every checkpoint folder under
    ``workdir`` (a recipe's sub-runs included)."""
    import jax
    import orbax.checkpoint as ocp

    out = {}
    root = pathlib.Path(workdir)
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    for folder in sorted(root.rglob("checkpoints*")):
        steps = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
        if not steps:
            continue
        # Plain orbax, as a user without jaxdl would read it: a target puts every array
        # whole on this process's device, whichever mesh wrote it.
        path = (folder / str(steps[-1]) / "state").resolve()
        with ocp.StandardCheckpointer() as reader:
            target = jax.tree.map(
                lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                reader.metadata(path).item_metadata,
            )
            flat = reader.restore(path, target)
        name = str(folder.relative_to(root))
        leaves = jax.tree_util.tree_flatten_with_path(flat)[0]
        out[name] = (steps[-1], {jax.tree_util.keystr(k): np.asarray(v) for k, v in leaves})
    return out


def assert_same_run(a, b) -> None:
    """Final parameters (every leaf of the newest checkpoint of every stage and sub-run),
    every record and every summary of workdirs ``a`` and ``b`` are equal bit for bit
    (fields that measure time aside)."""
    a, b = pathlib.Path(a), pathlib.Path(b)
    runs = sorted(str(p.parent.relative_to(a)) for p in a.rglob("summary.json"))
    assert runs == sorted(str(p.parent.relative_to(b)) for p in b.rglob("summary.json"))
    for run in runs:
        assert summary(a / run) == summary(b / run), run
        assert records(a / run) == records(b / run), run
    ca, cb = final_checkpoints(a), final_checkpoints(b)
    assert ca.keys() == cb.keys() and ca
    for name in ca:
        assert ca[name][0] == cb[name][0], name
        assert ca[name][1].keys() == cb[name][1].keys()
        for leaf in ca[name][1]:
            np.testing.assert_array_equal(ca[name][1][leaf], cb[name][1][leaf], err_msg=leaf)


def one_line_error(process, code: int) -> str:
    """Checks ``process`` failed with exit ``code``, no traceback, at most three lines
    of stderr that are not progress bars; returns its ``error:`` line."""
    assert process.returncode == code, (process.returncode, process.stderr[-2000:])
    lines = [x for x in process.stderr.splitlines() if x.strip() and "\r" not in x]
    assert "Traceback" not in process.stderr, process.stderr[-3000:]
    errors = [x for x in lines if x.startswith("error:")]
    assert len(errors) == 1, lines
    assert len(lines) <= 3, lines
    return errors[0]
