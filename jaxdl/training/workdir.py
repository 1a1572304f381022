"""Owning a workdir: its path (local or a URI), its lock, the record of which run made it,
and moving an older run aside until the new one has a checkpoint.

A run's workdir holds::

    .lock             pid and host of the process that owns it now
    run.json          recipe, config and its hash: which run made the rest
    checkpoints*/     orbax checkpoints (one folder per stage)
    metrics.jsonl     one record per epoch (and whatever the recipe logs)
    tensorboard/      the same records as TensorBoard events
    summary.json      final metrics, config, time, versions
    *.png, ...        the recipe's plots and tables
    .previous/        an older run being replaced (``overwrite``), until the new run's
                      first checkpoint is on disk
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from etils import epath

from jaxdl.errors import RunMismatchError, WorkdirBusyError, WorkdirError

LOCK = ".lock"
RECORD = "run.json"
PREVIOUS = ".previous"

#: Config fields that change how a run is carried out, not what it computes: a run
#: resumed with other values of these is the same run.
NEUTRAL_FIELDS = frozenset(
    {
        "resume",
        "overwrite",
        "progress",
        "max_to_keep",
        "checkpoint_every_steps",
        "checkpoint_every_s",
        "steps_per_dispatch",
        "data_dir",
    }
)


def as_path(workdir: str | os.PathLike) -> epath.Path:
    """``workdir`` as an :class:`etils.epath.Path`: ``gs://``, ``s3://`` and other URIs
    keep their scheme (pathlib would fold ``gs://b`` into a local ``gs:/b``), ``file://``
    URIs become local paths, local paths become absolute."""
    text = os.fspath(workdir)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        return epath.Path(text)
    return epath.Path(os.path.abspath(text))


def is_local(path: epath.Path) -> bool:
    """Whether ``path`` is on the local file system (not a ``gs://``-style URI)."""
    return "://" not in os.fspath(path)


def config_hash(config: Mapping[str, Any]) -> str:
    """A short hash of ``config`` without its :data:`NEUTRAL_FIELDS`: equal hashes, the
    same run.

    Example:
      >>> config_hash({"lr": 0.1, "resume": True}) == config_hash({"lr": 0.1})
      True
    """
    kept = {k: v for k, v in config.items() if k not in NEUTRAL_FIELDS}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def writing(path: Any) -> Iterator[None]:
    """Turns an ``OSError`` while writing under ``path`` into one :class:`WorkdirError`
    sentence that names the file and the reason (full disk, read-only, not a folder)."""
    try:
        yield
    except WorkdirError:
        raise
    except OSError as e:
        where = e.filename or os.fspath(path)
        reason = e.strerror or str(e)
        if e.errno == errno.ENOTDIR or (e.errno == errno.EEXIST and not _is_dir(path)):
            reason = "a file is in the way where a folder should be"
        raise WorkdirError(f"Could not write {where}: {reason}.") from e


def _is_dir(path: Any) -> bool:
    try:
        return epath.Path(path).is_dir()
    except OSError:
        return False


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _process_start(pid)
    return started is None or now is None or now == started


class WorkdirLock:
    """``workdir/.lock``: held by one process from :meth:`acquire` to :meth:`release`.

    A lock left by a process that is gone (killed, crashed) on this host is taken over
    with a notice; one held by a live process, or by a process on another host, is
    refused in one sentence naming the holder.
    """

    def __init__(self, workdir: epath.Path):
        self.path = workdir / LOCK
        self.held = False

    def _mine(self) -> dict[str, Any]:
        pid = os.getpid()
        return {
            "pid": pid,
            "host": socket.gethostname(),
            "started": _process_start(pid),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "argv": " ".join(sys.argv)[:200],
        }

    def acquire(self) -> None:
        """Takes the lock.

        Raises:
          WorkdirBusyError: a live process holds it.
        """
        mine = json.dumps(self._mine())
        with writing(self.path):
            if is_local(self.path):
                try:  # O_EXCL: of two runs starting at once, exactly one creates the file
                    fd = os.open(os.fspath(self.path), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    self._take_over_if_stale()
                    fd = os.open(os.fspath(self.path), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                with os.fdopen(fd, "w") as f:
                    f.write(mine)
            else:  # object stores have no exclusive create; checked, then written
                if self.path.exists():
                    self._take_over_if_stale()
                self.path.write_text(mine)
        self.held = True

    def _take_over_if_stale(self) -> None:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            holder = {}
        pid, host = holder.get("pid"), holder.get("host")
        here = socket.gethostname()
        if isinstance(pid, int) and host == here and _alive(pid, holder.get("started")):
            raise WorkdirBusyError(
                f"{self.path.parent} is in use by process {pid} on {host} (since "
                f"{holder.get('since', '?')}); wait for it to finish or use another --workdir."
            )
        if host not in (None, here):
            raise WorkdirBusyError(
                f"{self.path.parent} is locked by process {pid} on host {host} (since "
                f"{holder.get('since', '?')}); if that run is gone, delete {self.path}."
            )
        print(
            f"notice: {self.path.parent} was locked by process {pid}, which is gone; "
            "taking the lock over.",
            file=sys.stderr,
        )
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        """Gives the lock up (only if this object holds it)."""
        if self.held:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
            self.held = False


def read_record(workdir: epath.Path) -> dict[str, Any] | None:
    """``run.json`` of ``workdir``, or ``None`` when there is none (or it is unreadable)."""
    try:
        return json.loads((workdir / RECORD).read_text())
    except (OSError, ValueError):
        return None


def holds_a_run(workdir: epath.Path) -> bool:
    """Whether ``workdir`` holds the outputs of a run (checkpoints, metrics, a summary)."""
    if not workdir.exists():
        return False
    names = {p.name for p in workdir.iterdir()}
    run_files = {RECORD, "metrics.jsonl", "summary.json", "tensorboard", "step_metrics.npz"}
    return bool(names & run_files) or any(n.startswith("checkpoints") for n in names)


def describe_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The first config field that differs, as ``field: old -> new``.

    Example:
      >>> describe_difference({"lr": 0.1, "seed": 0}, {"lr": 0.2, "seed": 0})
      'lr: 0.1 -> 0.2'
    """
    for key in sorted(set(old) | set(new)):
        if key in NEUTRAL_FIELDS:
            continue
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True, default=str):
            return f"{key}: {a} -> {b}"
    return "the config"


def check_same_run(
    workdir: epath.Path, recipe: str | None, config: Mapping[str, Any], *, resume: bool
) -> bool:
    """Decides whether a run of ``recipe`` with ``config`` may open ``workdir``.

    Returns:
      ``True`` to resume (the workdir holds this run), ``False`` to start fresh (it holds
      no run).

    Raises:
      RunMismatchError: it holds another run, or this run while ``resume`` is off.
    """
    if not holds_a_run(workdir):
        return False
    record = read_record(workdir)
    if record is None:
        raise RunMismatchError(
            f"{workdir} holds the outputs of a run that did not record its config; use a "
            "fresh --workdir, or --config.overwrite=true to replace it."
        )
    if record.get("recipe") != recipe or record.get("config_hash") != config_hash(config):
        what = (
            f"recipe {record.get('recipe')}"
            if record.get("recipe") != recipe
            else describe_difference(record.get("config", {}), config)
        )
        raise RunMismatchError(
            f"{workdir} holds another run ({what}); use a fresh --workdir, or "
            "--config.overwrite=true to replace it."
        )
    if not resume:
        raise RunMismatchError(
            f"{workdir} already holds this run and resume is off; drop "
            "--config.resume=false to continue it, or pass --config.overwrite=true to "
            "start it over."
        )
    return True


def write_record(workdir: epath.Path, recipe: str | None, config: Mapping[str, Any]) -> None:
    """Writes ``run.json``: the recipe, the config and its hash."""
    payload = {
        "recipe": recipe,
        "config_hash": config_hash(config),
        "config": dict(config),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    with writing(workdir / RECORD):
        (workdir / RECORD).write_text(json.dumps(payload, indent=2, default=str) + "\n")


def _run_entries(workdir: epath.Path) -> list[epath.Path]:
    return [p for p in workdir.iterdir() if p.name not in (LOCK, PREVIOUS)]


def move_aside(workdir: epath.Path) -> None:
    """Moves everything of the run in ``workdir`` into ``workdir/.previous``."""
    previous = workdir / PREVIOUS
    with writing(previous):
        previous.mkdir(exist_ok=True)
        for entry in _run_entries(workdir):
            entry.rename(previous / entry.name)


def put_back(workdir: epath.Path) -> bool:
    """Undoes :func:`move_aside`: the new run's files go, the older run's come back.

    Returns:
      Whether there was an older run to put back.
    """
    previous = workdir / PREVIOUS
    if not previous.exists():
        return False
    with writing(workdir):
        for entry in _run_entries(workdir):
            entry.rmtree() if entry.is_dir() else entry.unlink()
        for entry in previous.iterdir():
            entry.rename(workdir / entry.name)
        previous.rmdir()
    return True


def drop_previous(workdir: epath.Path) -> None:
    """Deletes the older run moved aside (the new run has a checkpoint now)."""
    previous = workdir / PREVIOUS
    if previous.exists():
        previous.rmtree()


def settle_overwrite(workdir: epath.Path, *, failed: bool) -> None:
    """Ends an overwrite when the new run closes: a run that ``failed`` before its first
    checkpoint puts the older run back (with a notice), one that did not drops it."""
    if not failed:
        drop_previous(workdir)
    elif put_back(workdir):
        print(
            f"notice: the run failed before its first checkpoint; the earlier run in "
            f"{workdir} is back in place.",
            file=sys.stderr,
        )


def has_checkpoint(workdir: epath.Path) -> bool:
    """Whether any stage of the run in ``workdir`` has a finished checkpoint."""
    return any(
        p.name.startswith("checkpoints") and any(c.name.isdigit() for c in p.iterdir())
        for p in workdir.iterdir()
        if p.is_dir()
    )


def claim(
    workdir: epath.Path,
    recipe: str | None,
    config: Mapping[str, Any],
    *,
    resume: bool,
    overwrite: bool,
) -> tuple[WorkdirLock, bool, bool]:
    """Creates and locks ``workdir`` and decides what to do with what it holds.

    An overwrite that a kill cut short is finished first (the new run had a checkpoint)
    or undone (it had none). Then the workdir holds no run (start fresh), this run
    (resume) or another one (refused, or moved aside with ``overwrite``).

    Returns:
      ``(lock, resume, replaced)``: the held lock (release it when done), whether to
      resume, and whether an older run waits in ``.previous`` for the first checkpoint.

    Raises:
      WorkdirBusyError, RunMismatchError, WorkdirError: see :class:`~jaxdl.training.Run`.
    """
    with writing(workdir):
        if workdir.exists() and not workdir.is_dir():
            raise FileExistsError(17, "it is a file, not a folder", os.fspath(workdir))
        workdir.mkdir(parents=True, exist_ok=True)
    lock = WorkdirLock(workdir)
    lock.acquire()
    try:
        if (workdir / PREVIOUS).exists():
            drop_previous(workdir) if has_checkpoint(workdir) else put_back(workdir)
        replaced = overwrite and holds_a_run(workdir)
        if replaced:
            move_aside(workdir)
        again = not replaced and check_same_run(workdir, recipe, config, resume=resume)
        if not again:
            write_record(workdir, recipe, config)
    except BaseException:
        lock.release()
        raise
    return lock, again, replaced
