"""The one training engine: state, steps, batch sources, compiled chunks, the driver and
the run lifecycle. See ``docs/architecture.md`` for the path of a batch through it."""

from jaxdl.training.checkpoint import Checkpointer
from jaxdl.training.compile_cache import (
    compilation_stats,
    disable_compilation_cache,
    enable_compilation_cache,
)
from jaxdl.training.diagnostics import Diagnosis, Verdict, diagnose
from jaxdl.training.ema import EmaState, ema_params, track_ema
from jaxdl.training.engine import TrainResult, epoch_line, make_chunk, train
from jaxdl.training.evaluation import make_evaluator
from jaxdl.training.hyperparams import hyperparams, with_hyperparams
from jaxdl.training.logging import MetricsWriter, environment, plot_curves, write_summary
from jaxdl.training.loop import FitResult, fit
from jaxdl.training.lr_find import exponential_lrs, lr_find, smooth, suggest_lr
from jaxdl.training.optim import (
    WARMUP_COSINE_OPTIMIZERS,
    warmup_adam_ema,
    warmup_cosine_optimizer,
)
from jaxdl.training.run import Run
from jaxdl.training.saved import export_model, load_exported, restore_weights
from jaxdl.training.sources import (
    BatchSource,
    FullBatch,
    Generated,
    HostFed,
    Permuted,
    Sampled,
    epoch_order,
    minibatch_indices,
    num_examples,
    take,
)
from jaxdl.training.state import TrainState
from jaxdl.training.step import (
    classifier_eval,
    classifier_loss,
    eval_step,
    make_train_step,
    train_step,
)
from jaxdl.training.subsets import (
    SampledSubset,
    SubsetState,
    check_subset_sizes,
    make_subset_evaluator,
    with_subset_sizes,
)
from jaxdl.training.sweep import expand_grid, expand_rows, group_by, swept_fields, write_table

__all__ = [
    "BatchSource",
    "Checkpointer",
    "Diagnosis",
    "EmaState",
    "FitResult",
    "FullBatch",
    "Generated",
    "HostFed",
    "MetricsWriter",
    "Permuted",
    "Run",
    "Sampled",
    "SampledSubset",
    "SubsetState",
    "TrainResult",
    "TrainState",
    "Verdict",
    "WARMUP_COSINE_OPTIMIZERS",
    "check_subset_sizes",
    "classifier_eval",
    "classifier_loss",
    "compilation_stats",
    "diagnose",
    "disable_compilation_cache",
    "ema_params",
    "enable_compilation_cache",
    "environment",
    "epoch_line",
    "epoch_order",
    "eval_step",
    "expand_grid",
    "expand_rows",
    "export_model",
    "exponential_lrs",
    "fit",
    "group_by",
    "hyperparams",
    "load_exported",
    "lr_find",
    "make_chunk",
    "make_evaluator",
    "make_subset_evaluator",
    "make_train_step",
    "minibatch_indices",
    "num_examples",
    "plot_curves",
    "restore_weights",
    "smooth",
    "suggest_lr",
    "swept_fields",
    "take",
    "track_ema",
    "train",
    "train_step",
    "warmup_adam_ema",
    "warmup_cosine_optimizer",
    "with_hyperparams",
    "with_subset_sizes",
    "write_summary",
    "write_table",
]
