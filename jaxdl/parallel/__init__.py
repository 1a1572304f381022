"""Scale without code changes: meshes, data parallel, FSDP and tensor parallel shardings,
stacks of vmapped runs split over devices (the ``runs`` axis), mixed precision,
activation checkpointing and multi-host start-up. See docs in each module."""

from jaxdl.parallel.cpu import cpu_cores, devices_for_runs, request_cpu_devices
from jaxdl.parallel.data import (
    global_batches,
    local_batch_size,
    place,
    process_share,
    replicate,
)
from jaxdl.parallel.distributed import initialize, is_main_process
from jaxdl.parallel.mesh import (
    AXES,
    BATCH_AXES,
    RUNS_AXIS,
    batch_axes,
    batch_divisor,
    check_batch_size,
    check_num_runs,
    make_mesh,
    parse_mesh,
    runs_size,
)
from jaxdl.parallel.precision import PRECISIONS, DynamicLossScale, compute_dtype, needs_loss_scale
from jaxdl.parallel.remat import REMAT_POLICIES, remat_call, remat_policy
from jaxdl.parallel.sharding import (
    batch_sharding,
    bytes_per_device,
    fsdp_spec,
    replicated,
    state_shardings,
    total_bytes,
)
from jaxdl.parallel.tensor import TRANSFORMER_RULES, check_heads, leaf_spec, tensor_specs

__all__ = [
    "AXES",
    "BATCH_AXES",
    "PRECISIONS",
    "REMAT_POLICIES",
    "RUNS_AXIS",
    "TRANSFORMER_RULES",
    "DynamicLossScale",
    "batch_axes",
    "batch_divisor",
    "batch_sharding",
    "bytes_per_device",
    "check_batch_size",
    "check_heads",
    "check_num_runs",
    "compute_dtype",
    "cpu_cores",
    "devices_for_runs",
    "fsdp_spec",
    "global_batches",
    "initialize",
    "is_main_process",
    "leaf_spec",
    "local_batch_size",
    "make_mesh",
    "needs_loss_scale",
    "parse_mesh",
    "place",
    "process_share",
    "remat_call",
    "remat_policy",
    "replicate",
    "replicated",
    "request_cpu_devices",
    "runs_size",
    "state_shardings",
    "tensor_specs",
    "total_bytes",
]
