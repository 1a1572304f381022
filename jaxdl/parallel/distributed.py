"""Multi-host start-up: ``jax.distributed.initialize`` from a config or the environment.

On a Cloud TPU pod slice or a SLURM / Open MPI GPU cluster JAX finds the coordinator
and the process ids itself: set ``config.distributed = True`` and launch the same
command on every host. Elsewhere give them explicitly (``coordinator_address``,
``num_processes``, ``process_id``), or through the environment variables
``JAXDL_COORDINATOR``, ``JAXDL_NUM_PROCESSES`` and ``JAXDL_PROCESS_ID``.
"""

from __future__ import annotations

import os

import jax

_STARTED = False


def initialize(
    coordinator_address: str = "",
    num_processes: int = 0,
    process_id: int = -1,
    *,
    auto: bool = False,
) -> bool:
    """Joins this process to a multi-process run; returns whether it did.

    Must run before any other JAX call of the process. CPU processes talk through gloo
    (JAX's CPU collectives); GPUs and TPUs use their own interconnect.
    """
    global _STARTED
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


def initialize_from_config(config) -> bool:
    """:func:`initialize` with a recipe config's ``distributed`` fields (if it has them)."""
    return initialize(
        config.get("coordinator_address", ""),
        config.get("num_processes", 0),
        config.get("process_id", -1),
        auto=config.get("distributed", False),
    )


def is_main_process() -> bool:
    """Process 0 writes logs, plots and summaries; the others stay quiet."""
    return jax.process_index() == 0
