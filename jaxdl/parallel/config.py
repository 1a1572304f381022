"""The config fields that scale a recipe, and what a recipe does with them.

A recipe calls :func:`add_scale_fields` in its default config and :func:`setup` first
thing in ``train_and_evaluate``; then the same recipe runs on one CPU, on a mesh of
devices and on many hosts through ``--config.mesh=...``, ``--config.precision=...``,
``--config.remat=...`` and ``--config.accum_steps=...`` only.
"""

from __future__ import annotations

import ml_collections
from jax.sharding import Mesh

from jaxdl.parallel.distributed import initialize_from_config
from jaxdl.parallel.mesh import make_mesh
from jaxdl.parallel.precision import DynamicLossScale, compute_dtype, needs_loss_scale


def add_scale_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Adds the scaling fields with single-device defaults; returns ``c``."""
    # "" trains on the default device as before; "data=8" is data parallel (DDP),
    # "fsdp=8" shards parameters and optimiser state (ZeRO-3), "data=4,fsdp=2" both.
    c.mesh = ""
    c.accum_steps = 1  # micro-batches per step, gradients averaged
    c.precision = "float32"  # or bfloat16 (float32 master weights), float16 (+ loss scaling)
    c.loss_scale = 2.0**15  # float16's initial dynamic loss scale
    c.remat = "off"  # off, nothing, dots or everything (checkpointing per block)
    # Multi-host: distributed=True lets JAX find the cluster (TPU pods, SLURM, Open MPI);
    # or give the coordinator and ids (or JAXDL_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID).
    c.distributed = False
    c.coordinator_address = ""
    c.num_processes = 0
    c.process_id = -1
    return c


def setup(config: ml_collections.ConfigDict) -> Mesh | None:
    """Joins a multi-process run if configured, checks the fields, returns the mesh.

    Call it before any other JAX work of the process. ``config.remat`` is for the recipes
    whose models checkpoint blocks: they map it with :func:`jaxdl.parallel.remat_policy`.
    """
    initialize_from_config(config)
    compute_dtype(config.precision)
    return make_mesh(config.mesh) if config.mesh else None


def loss_scale(config: ml_collections.ConfigDict) -> DynamicLossScale | None:
    """A dynamic loss scale for float16, ``None`` otherwise."""
    if needs_loss_scale(config.precision):
        return DynamicLossScale.create(config.loss_scale)
    return None
