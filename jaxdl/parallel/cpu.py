"""A CPU host as several XLA devices, so that independent runs use every core.

XLA:CPU runs one program mostly on one core when its operations are small (PPO's
64-wide MLPs on minibatches of 128: each matmul is a few microseconds of one core, too
small to split). A stack of independent runs (the ``runs`` mesh axis: seeds trained
together under ``vmap``) needs no communication, so exposing the host as ``n`` devices and
splitting the stack over them runs ``n`` partitions of the program side by side on XLA's
shared intra-op thread pool. Measured on a 2-core CPU (jax 0.10.2): PPO's CartPole
config, 8 seeds, 1.7-1.9x the environment steps per second of one device (see
``benchmarks/README.md``).

JAX fixes the number of CPU devices when it starts its backends, so
:func:`request_cpu_devices` must run before any JAX computation; it leaves an explicit
``--xla_force_host_platform_device_count`` in ``XLA_FLAGS`` alone.
"""

from __future__ import annotations

import os

import jax

from jaxdl._xla_cpu import backends_started

#: The XLA flag that sets the CPU device count; a user who set it keeps their count.
DEVICE_COUNT_FLAG = "xla_force_host_platform_device_count"


def cpu_cores() -> int:
    """The number of cores this process may run on (its CPU affinity, else ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def request_cpu_devices(count: int) -> bool:
    """Asks JAX for ``count`` CPU devices, if it is not too late; starts nothing.

    Call it before anything runs JAX (importing some libraries does: gymnax computes
    arrays at import). It does not start JAX's backends, so a multi-process run can still
    call ``jax.distributed.initialize`` after it.

    Args:
      count: the CPU devices wanted, >= 1 (:func:`cpu_cores` for one per core).

    Returns:
      Whether the request was made: ``False`` when JAX's backends have started (the count
      is fixed) or ``XLA_FLAGS`` sets :data:`DEVICE_COUNT_FLAG` (the user's count wins).

    Raises:
      ValueError: ``count`` is not an integer >= 1.

    Example:
      >>> _ = jax.devices()  # JAX is running: the device count is fixed
      >>> request_cpu_devices(2)
      False
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count is {count!r}, expected an integer >= 1.")
    if DEVICE_COUNT_FLAG in os.environ.get("XLA_FLAGS", "") or backends_started():
        return False
    jax.config.update("jax_num_cpu_devices", count)
    return True


def devices_for_runs(num_runs: int, devices: int) -> int:
    """How many devices to split ``num_runs`` runs over: the largest divisor of
    ``num_runs`` that is at most ``devices`` (so every device trains as many runs).

    Args:
      num_runs: the runs in the stack, >= 1.
      devices: the devices available, >= 1.

    Returns:
      An integer in ``[1, min(num_runs, devices)]`` that divides ``num_runs``.

    Example:
      >>> devices_for_runs(8, 2), devices_for_runs(8, 6), devices_for_runs(5, 2)
      (2, 4, 1)
    """
    return max(d for d in range(1, min(num_runs, devices) + 1) if num_runs % d == 0)
