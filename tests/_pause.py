"""Kill-and-resume tests: a recipe run (``python -m train ...``) in a child process that
stops dead once an epoch has been saved and recorded, killed there with SIGKILL."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

# argv: marker file, epoch, then the CLI's arguments. Touches the marker and sleeps once
# the epoch's checkpoint and record are written.
PAUSE_AFTER_EPOCH = """
import pathlib, sys, time
from jaxdl.training import run as run_module
from train.__main__ import main
save_progress = run_module.Run.save_progress
def pause(self, key, state, progress, record=None, *, stage=""):
    save_progress(self, key, state, progress, record, stage=stage)
    if record is not None and record["epoch"] == int(sys.argv[2]):
        pathlib.Path(sys.argv[1]).touch()
        time.sleep(600)
run_module.Run.save_progress = pause
main(sys.argv[3:])
"""


def kill_after_epoch(
    args: Sequence[str],
    *,
    marker: pathlib.Path,
    epoch: int,
    cwd: pathlib.Path,
    env: Mapping[str, str],
    timeout_s: float = 300,
) -> None:
    """Runs ``python -m train *args`` until ``epoch`` is saved, then SIGKILLs it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSE_AFTER_EPOCH, str(marker), str(epoch), *args],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + timeout_s
        while not marker.exists():
            assert proc.poll() is None and time.time() < deadline, "the run never paused"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
