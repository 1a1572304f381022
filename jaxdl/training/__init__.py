"""The functional training core: state, steps, compiled epochs, loop, checkpoints, logs."""

from jaxdl.training.checkpoint import Checkpointer
from jaxdl.training.ema import EmaState, ema_params, track_ema
from jaxdl.training.epoch import epoch_order, make_evaluator, make_train_chunk, take
from jaxdl.training.logging import MetricsWriter, environment, plot_curves, write_summary
from jaxdl.training.loop import FitResult, clear_run, fit, fit_options
from jaxdl.training.optim import (
    WARMUP_COSINE_OPTIMIZERS,
    warmup_adam_ema,
    warmup_cosine_optimizer,
)
from jaxdl.training.state import TrainState
from jaxdl.training.step import (
    classifier_eval,
    classifier_loss,
    eval_step,
    make_train_step,
    train_step,
)

__all__ = [
    "Checkpointer",
    "EmaState",
    "FitResult",
    "MetricsWriter",
    "TrainState",
    "WARMUP_COSINE_OPTIMIZERS",
    "classifier_eval",
    "classifier_loss",
    "clear_run",
    "ema_params",
    "environment",
    "epoch_order",
    "eval_step",
    "fit",
    "fit_options",
    "make_evaluator",
    "make_train_chunk",
    "make_train_step",
    "plot_curves",
    "take",
    "track_ema",
    "train_step",
    "warmup_adam_ema",
    "warmup_cosine_optimizer",
    "write_summary",
]
