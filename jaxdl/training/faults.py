"""Failure points for the reliability tests (``tests/reliability``): a process can be
told to kill itself with SIGKILL at a chosen point, and to log where it was.

``JAXDL_FAULT="chunk:3"`` kills the process right after its third compiled chunk of
training steps; ``"save:2"`` during its second checkpoint write (orbax has started
writing into its temporary folder and has not renamed it). ``JAXDL_FAULT_LOG=FILE``
appends one line per event (``chunk <stage> <position>``, ``save <stage> <key>``,
``restore <stage> <key>``); ``JAXDL_FAULT_STALL_S=S`` sleeps ``S`` seconds at every
event (a slow run that surely overlaps another). Unset, they cost a dictionary lookup
per event.
"""

from __future__ import annotations

import os
import signal
import time

_counts: dict[str, int] = {}


def event(kind: str, stage: str = "", position: int = 0) -> None:
    """Records that ``kind`` happened (at ``position`` of ``stage``), and dies here if
    ``JAXDL_FAULT`` says so."""
    log = os.environ.get("JAXDL_FAULT_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{kind} {stage or '-'} {position}\n")
    stall = os.environ.get("JAXDL_FAULT_STALL_S")
    if stall:
        time.sleep(float(stall))
    fault = os.environ.get("JAXDL_FAULT")
    if not fault:
        return
    _counts[kind] = _counts.get(kind, 0) + 1
    want, _, nth = fault.partition(":")
    if want == kind and _counts[kind] == int(nth or 1):
        if kind == "save":
            time.sleep(0.05)  # let the writer threads put part of the checkpoint down
        os.kill(os.getpid(), signal.SIGKILL)
