"""Multi-host start-up: ``jax.distributed.initialize`` from arguments or the environment.

On a Cloud TPU pod slice or a SLURM / Open MPI GPU cluster JAX finds the coordinator
and the process ids itself: call ``initialize(auto=True)`` and launch the same command
on every host. Elsewhere give them explicitly (``coordinator_address``,
``num_processes``, ``process_id``), or through the environment variables
``JAXDL_COORDINATOR``, ``JAXDL_NUM_PROCESSES`` and ``JAXDL_PROCESS_ID``.
"""

from __future__ import annotations

import os

import jax

_STARTED = False


def initialize(
    *,
    coordinator_address: str = "",
    num_processes: int = 0,
    process_id: int = -1,
    auto: bool = False,
) -> bool:
    """Joins this process to a multi-process run; returns whether it did.

    Must run before any other JAX call of the process. CPU processes talk through gloo
    (JAX's CPU collectives); GPUs and TPUs use their own interconnect. A second call
    after a successful one does nothing and returns ``True``.

    Args:
      coordinator_address: ``host:port`` of process 0; ``""`` reads
        ``$JAXDL_COORDINATOR``.
      num_processes: how many processes take part; 0 reads ``$JAXDL_NUM_PROCESSES``
        (unset: JAX decides).
      process_id: this process's index; -1 reads ``$JAXDL_PROCESS_ID``.
      auto: with no coordinator address, let JAX find the cluster (TPU pods, SLURM,
        Open MPI) instead of staying a single process.

    Returns:
      ``True`` if the process is part of a multi-process run, ``False`` if it stays
      alone (no coordinator address and not ``auto``).

    Raises:
      ValueError: when ``num_processes`` is negative or ``process_id`` is below -1.
    """
    global _STARTED
    if num_processes < 0:
        raise ValueError(f"num_processes is {num_processes}, expected >= 0 (0: from the env).")
    if process_id < -1:
        raise ValueError(f"process_id is {process_id}, expected >= 0 (or -1: from the env).")
    if _STARTED:
        return True
    address = coordinator_address or os.environ.get("JAXDL_COORDINATOR", "")
    count = num_processes or int(os.environ.get("JAXDL_NUM_PROCESSES", "0"))
    pid = process_id if process_id >= 0 else int(os.environ.get("JAXDL_PROCESS_ID", "-1"))
    if not (address or auto):
        return False
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if address:
        jax.distributed.initialize(address, num_processes=count or None, process_id=pid)
    else:
        jax.distributed.initialize()
    _STARTED = True
    return True


def is_main_process() -> bool:
    """Process 0 writes logs, plots and summaries; the others stay quiet.

    Returns:
      Whether ``jax.process_index() == 0``.

    Example:
      >>> is_main_process()  # one process
      True
    """
    return jax.process_index() == 0
