"""Device meshes from a config string such as ``"data=8"`` or ``"data=4,fsdp=2"``.

The axis names carry the strategy: ``data`` splits the batch and replicates the state
(PyTorch's DDP), ``fsdp`` splits the batch *and* shards parameters, gradients and
optimiser state (ZeRO-3 / FSDP). ``model`` splits the transformer blocks' weights
(Megatron tensor parallelism, :mod:`jaxdl.parallel.tensor`) and not the batch: its
devices share each batch. ``runs`` is not a batch axis: it splits a *stack* of
independent runs trained as one vmapped program (seeds, a sweep's hyperparameters) so
that each device trains ``runs / size`` of them; the data they share is replicated over
it. ``"runs=8"`` trains 8 seeds on 8 devices, one each; ``"runs=4,data=2"`` trains 2
per pair of devices, each batch split over the pair. A size of ``-1`` takes the devices
the other axes leave.
"""

from __future__ import annotations

import math
import re

import jax
from jax.sharding import AxisType, Mesh

#: The axes the batch is split over (``data`` and ``fsdp``).
BATCH_AXES = ("data", "fsdp")
#: The axis that splits the leading (stack) axis of a vmapped stack of runs.
RUNS_AXIS = "runs"
#: Every axis :mod:`jaxdl.parallel` knows: the batch axes, ``runs`` and ``model``.
AXES = ("data", "fsdp", "runs", "model")
_ITEM = re.compile(r"^\s*([a-z_]+)\s*=\s*(-?\d+)\s*$")


def parse_mesh(spec: str) -> dict[str, int]:
    """``"data=4,fsdp=2"`` to ``{"data": 4, "fsdp": 2}`` (in the order given).

    Args:
      spec: comma-separated ``axis=size`` items; the axes are :data:`AXES`, a size is
        at least 1, or -1 (at most once) for the devices the other axes leave.

    Returns:
      The axis sizes by name; ``{}`` for an empty ``spec``.

    Raises:
      ValueError: when an item is not ``axis=size``, names an unknown axis or one twice,
        or has a size below 1 other than -1.

    Example:
      >>> parse_mesh("data=4, fsdp=2")
      {'data': 4, 'fsdp': 2}
    """
    axes: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(
                f"mesh has {item!r}, expected axis=size items such as 'data=4,fsdp=2'."
            )
        name, size = match.group(1), int(match.group(2))
        if name not in AXES:
            raise ValueError(f"mesh has axis {name!r}, expected one of {', '.join(AXES)}.")
        if name in axes:
            raise ValueError(f"mesh names axis {name!r} twice in {spec!r}.")
        if size == 0 or size < -1:
            raise ValueError(f"mesh axis {name!r} has size {size}, expected >= 1 or -1.")
        axes[name] = size
    if list(axes.values()).count(-1) > 1:
        raise ValueError(f"mesh {spec!r} has more than one axis of size -1.")
    return axes


def make_mesh(spec: str, devices: list | None = None) -> Mesh:
    """A mesh over ``devices`` (default: all, of every process) with ``Auto`` axes.

    ``Auto`` axes let XLA place the collectives (the gradient all-reduce of data
    parallelism, the all-gathers of FSDP) from the shardings of inputs and outputs.

    Args:
      spec: the axes as :func:`parse_mesh` reads them, e.g. ``"data=8"`` or
        ``"data=4,fsdp=-1"``; ``""`` is a one-axis ``data`` mesh of one device.
      devices: the devices to lay out; default ``jax.devices()``.

    Returns:
      A :class:`jax.sharding.Mesh` whose axis sizes multiply to ``len(devices)``.

    Raises:
      ValueError: when ``spec`` is malformed (see :func:`parse_mesh`) or its axis sizes
        do not multiply to the number of devices.
    """
    devices = jax.devices() if devices is None else list(devices)
    axes = parse_mesh(spec) or {"data": 1}
    known = math.prod(s for s in axes.values() if s != -1)
    if -1 in axes.values():
        if len(devices) % known:
            raise ValueError(
                f"mesh {spec!r} cannot fill {len(devices)} devices: the fixed axes take "
                f"{known}, which does not divide {len(devices)}."
            )
        axes = {k: (len(devices) // known if s == -1 else s) for k, s in axes.items()}
    total = math.prod(axes.values())
    if total != len(devices):
        raise ValueError(
            f"mesh {spec!r} asks for {total} devices, but there are {len(devices)}; make the "
            f"axis sizes multiply to {len(devices)} (or give one axis size -1)."
        )
    # jax.make_mesh orders the devices by the physical topology (TPU torus, GPU
    # NVLink islands) so that the inner axes' collectives stay on the fastest links.
    return jax.make_mesh(
        tuple(axes.values()), tuple(axes), (AxisType.Auto,) * len(axes), devices=devices
    )


def batch_axes(mesh: Mesh) -> tuple[str, ...]:
    """The mesh axes the batch is split over (every :data:`BATCH_AXES` the mesh has).

    ``runs`` and ``model`` are never ones: the runs of a stack, and the devices of a
    ``model`` group, share every batch.

    Args:
      mesh: the device mesh.

    Returns:
      The names of the mesh's axes that are in :data:`BATCH_AXES`, in the mesh's order.

    Example:
      >>> batch_axes(make_mesh("data=1"))
      ('data',)
      >>> batch_axes(make_mesh("runs=1,data=1"))
      ('data',)
    """
    return tuple(a for a in mesh.axis_names if a in BATCH_AXES)


def runs_size(mesh: Mesh) -> int:
    """How many ways a vmapped stack of runs is split: the size of the ``runs`` axis.

    Args:
      mesh: the device mesh.

    Returns:
      The size of the mesh's ``runs`` axis; 1 when it has none (every device holds
      every run).

    Example:
      >>> runs_size(make_mesh(""))
      1
    """
    return mesh.shape.get(RUNS_AXIS, 1)


def check_num_runs(num_runs: int, mesh: Mesh, *, name: str = "number of runs") -> None:
    """Checks that a stack of ``num_runs`` runs splits evenly over the ``runs`` axis.

    Args:
      num_runs: the size of the stack's leading axis (seeds, sweep points).
      mesh: the mesh the stack is placed on.
      name: what the error message calls ``num_runs`` (e.g. ``"config.num_seeds"``).

    Returns:
      None when the runs split evenly.

    Raises:
      ValueError: when ``num_runs`` is not a multiple of :func:`runs_size`.

    Example:
      >>> check_num_runs(3, make_mesh(""))
    """
    size = runs_size(mesh)
    if num_runs % size:
        raise ValueError(
            f"{name} is {num_runs}, which does not split over the mesh's runs axis of "
            f"size {size}; expected a multiple of {size}."
        )


def batch_divisor(mesh: Mesh) -> int:
    """How many ways the batch is split: the product of :func:`batch_axes`' sizes.

    Args:
      mesh: the device mesh.

    Returns:
      The product of the sizes of the mesh's batch axes (1 when it has none).

    Example:
      >>> batch_divisor(make_mesh(""))  # one device
      1
    """
    return math.prod(mesh.shape[a] for a in batch_axes(mesh))


def check_batch_size(batch_size: int, mesh: Mesh, *, name: str = "batch_size") -> None:
    """Checks that ``batch_size`` splits evenly over the mesh's batch axes.

    Args:
      batch_size: the global batch size.
      mesh: the mesh the batch is split over (its :func:`batch_axes`).
      name: what the error message calls ``batch_size`` (e.g. ``"eval_batch_size"``).

    Returns:
      None when the batch splits evenly.

    Raises:
      ValueError: when ``batch_size`` is not a multiple of :func:`batch_divisor`.

    Example:
      >>> check_batch_size(32, make_mesh(""))
    """
    parts = batch_divisor(mesh)
    if batch_size % parts:
        axes = " x ".join(f"{a}={mesh.shape[a]}" for a in batch_axes(mesh))
        raise ValueError(
            f"{name} is {batch_size}, which does not split evenly over the {parts} batch "
            f"shards of the mesh ({axes}); use a multiple of {parts}."
        )
