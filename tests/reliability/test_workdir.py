"""A workdir is owned by one run: locks, which run it holds, overwriting without losing
the older run, corrupt checkpoints, full and read-only disks, URIs (issue 20)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import chex
import fsspec
import jax
import jax.numpy as jnp
import pytest

from jaxdl.errors import (
    NonFiniteLossError,
    RunMismatchError,
    WorkdirBusyError,
    WorkdirError,
)
from jaxdl.training import (
    Checkpointer,
    MetricsWriter,
    Run,
    classifier_eval,
    classifier_loss,
    fit,
)
from jaxdl.training import workdir as wd
from tests.training.helpers import tiny_data, tiny_state, to_float

LOSS, EVAL = to_float(classifier_loss), to_float(classifier_eval)


def tiny_fit(workdir, *, num_epochs=2, loss_fn=LOSS, hooks=(), **run_kw):
    with Run(workdir, recipe="tiny", config={"lr": 3e-3}, **run_kw) as run:
        return fit(
            tiny_state(),
            tiny_data(48),
            tiny_data(40, seed=1),
            loss_fn=loss_fn,
            eval_fn=EVAL,
            num_epochs=num_epochs,
            batch_size=16,
            steps_per_dispatch=3,
            data_key=jax.random.key(7),
            run=run,
            progress=False,
            hooks=hooks,
        )


def snapshot(folder: pathlib.Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes; not the lock, a run moved aside or
    TensorBoard (a resumed run adds an event file)."""
    skip = {".previous", "tensorboard"}
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not skip & set(p.parts) and p.name != ".lock"
    }


def test_a_second_run_is_refused_naming_the_holder(tmp_path):
    busy = pytest.raises(WorkdirBusyError, match=f"in use by process {os.getpid()}")
    with Run(tmp_path, recipe="a"), busy:
        Run(tmp_path, recipe="a")
    with Run(tmp_path, recipe="a"):  # released on close
        pass


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys):
    gone = subprocess.Popen(["true"])  # a pid that existed and is gone
    gone.wait()
    lock = {"pid": gone.pid, "host": os.uname().nodename, "started": None}
    (tmp_path / ".lock").write_text(json.dumps(lock))
    with Run(tmp_path, recipe="a"):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert "which is gone; taking the lock over" in capsys.readouterr().err
    assert not (tmp_path / ".lock").exists()


def test_another_run_is_refused_and_the_same_run_resumes(tmp_path):
    with Run(tmp_path, recipe="tiny", config={"lr": 0.1}) as run:
        run.log({"epoch": 1}, step=1)
    with pytest.raises(RunMismatchError, match=r"another run \(lr: 0.1 -> 0.2\).*overwrite"):
        Run(tmp_path, recipe="tiny", config={"lr": 0.2})
    with pytest.raises(RunMismatchError, match="recipe tiny"):
        Run(tmp_path, recipe="other", config={"lr": 0.1})
    with pytest.raises(RunMismatchError, match="resume is off"):
        Run(tmp_path, recipe="tiny", config={"lr": 0.1}, resume=False)
    # Fields that do not change the results do not make it another run.
    with Run(tmp_path, recipe="tiny", config={"lr": 0.1, "progress": False}) as run:
        assert run.resume


def test_a_failed_overwrite_puts_the_older_run_back(tmp_path):
    tiny_fit(tmp_path)
    before = snapshot(tmp_path)

    def exploding(model, batch, *, train, key):
        loss, metrics = LOSS(model, batch, train=train, key=key)
        return loss * jnp.nan, metrics

    with pytest.raises(NonFiniteLossError, match="nothing had been checkpointed yet"):
        tiny_fit(tmp_path, loss_fn=exploding, overwrite=True)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / ".previous").exists()


def test_an_overwrite_that_fails_while_opening_puts_the_older_run_back(tmp_path, monkeypatch):
    tiny_fit(tmp_path)
    before = snapshot(tmp_path)
    closed = []
    monkeypatch.setattr(MetricsWriter, "history", lambda self: 1 / 0)  # after the files open
    monkeypatch.setattr(MetricsWriter, "close", lambda self: closed.append(self))
    with pytest.raises(ZeroDivisionError):
        Run(tmp_path, recipe="tiny", config={"lr": 3e-3}, overwrite=True)
    assert len(closed) == 1
    monkeypatch.undo()
    assert snapshot(tmp_path) == before
    assert not (tmp_path / ".previous").exists()
    with Run(tmp_path, recipe="tiny", config={"lr": 3e-3}) as run:  # the lock is free
        assert run.resume


def test_an_overwrite_deletes_the_older_run_only_after_its_first_checkpoint(tmp_path):
    tiny_fit(tmp_path, num_epochs=3)
    seen = []

    def look(epoch, state):  # after epoch 1's records, before its checkpoint
        seen.append((tmp_path / ".previous").exists())

    tiny_fit(tmp_path, num_epochs=1, overwrite=True, hooks=(look,))
    assert seen == [True]
    assert not (tmp_path / ".previous").exists()
    assert [
        json.loads(x)["epoch"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ] == [1]


def test_an_overwrite_cut_short_by_a_kill_is_undone_on_the_next_open(tmp_path):
    tiny_fit(tmp_path)
    before = snapshot(tmp_path)
    wd.move_aside(wd.as_path(tmp_path))  # what a kill before the first checkpoint leaves
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n')
    with Run(tmp_path, recipe="tiny", config={"lr": 3e-3}) as run:
        assert run.resume
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("damage", ["truncate a data file", "delete _METADATA"])
def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous(tmp_path, capsys, damage):
    straight = tiny_fit(tmp_path / "straight", num_epochs=3)
    tiny_fit(tmp_path / "run", num_epochs=3)
    newest = tmp_path / "run" / "checkpoints" / "9"
    if damage == "delete _METADATA":
        (newest / "state" / "_METADATA").unlink()
    else:
        data = max((p for p in newest.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        data.write_bytes(data.read_bytes()[:16])
    resumed = tiny_fit(tmp_path / "run", num_epochs=3)
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning")]
    assert len(err) == 1 and "checkpoint 9" in err[0] and "trying the previous one" in err[0]
    assert (tmp_path / "run" / "checkpoints" / "9.corrupt").is_dir()
    chex.assert_trees_all_equal(resumed.state.params, straight.state.params)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]


def test_a_workdir_that_is_a_file_is_one_sentence(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkdirError, match="file is in the way") as info:
        Run(tmp_path / "file")
    assert "\n" not in str(info.value)


def _tmpfs(path: pathlib.Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)])
    return done.returncode == 0


def test_a_full_disk_keeps_the_last_good_checkpoint_and_records_nothing_unsaved(tmp_path):
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "size=4m"):
        pytest.skip("needs root to mount a small tmpfs")
    try:

        def fill(epoch, state):  # after epoch 1 is saved, the disk fills up
            if epoch == 2:
                # Unbuffered, and the raises outermost: a buffered file's close() would
                # retry the bytes that did not fit and raise a second ENOSPC.
                with pytest.raises(OSError), open(disk / "filler", "wb", buffering=0) as f:
                    while True:
                        f.write(b"\0" * 65536)

        with pytest.raises(WorkdirError) as info:
            tiny_fit(disk / "run", num_epochs=3, hooks=(fill,))
        message = str(info.value)
        assert "No space left on device" in message and "\n" not in message
        assert "last good checkpoint (epoch 1, step 3" in message, message
        (disk / "filler").unlink()
        records = [json.loads(x) for x in (disk / "run" / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in records] == [1]
        key, _ = Checkpointer(disk / "run" / "checkpoints").restore(tiny_state())
        assert key == 3
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_a_read_only_workdir_is_one_sentence(tmp_path):
    disk = tmp_path / "ro"
    if not _tmpfs(disk, "ro,size=1m"):
        pytest.skip("needs root to mount a read-only tmpfs")
    try:
        with pytest.raises(WorkdirError, match="Read-only file system") as info:
            Run(disk / "run")
        assert "\n" not in str(info.value)
    finally:
        subprocess.run(["umount", "-l", str(disk)])


@pytest.fixture
def memory_gcs(monkeypatch):
    """``gs://`` served by fsspec's in-memory file system (no network, no credentials)."""
    from etils.epath import backend

    memory = fsspec.filesystem("memory")
    memory.store.clear()
    real = backend.fsspec_backend._get_filesystem
    monkeypatch.setattr(
        backend.fsspec_backend,
        "_get_filesystem",
        lambda name: memory if name == "gcs" else real(name),
    )
    yield memory
    memory.store.clear()


def test_a_gs_workdir_keeps_its_scheme(tmp_path, monkeypatch, memory_gcs):
    monkeypatch.chdir(tmp_path)
    assert os.fspath(wd.as_path("gs://bucket/run")) == "gs://bucket/run"
    with Run("gs://bucket/run", recipe="tiny", config={"lr": 0.1}, checkpoints=False) as run:
        run.end_epoch({"epoch": 1, "train_loss": 0.5})
        run.finish({"test_loss": 0.25})
    assert not (tmp_path / "gs:").exists()  # nothing local, as pathlib would have made
    files = {p.removeprefix("gs://bucket/run/") for p in memory_gcs.store}
    assert {"run.json", "metrics.jsonl", "summary.json", "curves.png"} <= files
    with Run("gs://bucket/run", recipe="tiny", config={"lr": 0.1}, checkpoints=False) as run:
        # Resumed; without checkpoints it redoes everything, so no record is kept.
        assert run.resume and run.history == []
    assert memory_gcs.store["gs://bucket/run/metrics.jsonl"].getvalue() == b""


def test_a_file_uri_workdir_trains_and_resumes(tmp_path):
    straight = tiny_fit(tmp_path / "a", num_epochs=2)
    tiny_fit(f"file://{tmp_path / 'b'}", num_epochs=1)
    resumed = tiny_fit(f"file://{tmp_path / 'b'}", num_epochs=2)
    chex.assert_trees_all_equal(resumed.state.params, straight.state.params)
