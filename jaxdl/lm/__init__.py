"""Character-level language models (seed 002): whole-run training, sweeps, sampling."""

from jaxdl.lm.lr_find import exponential_lrs, lr_find, smooth, suggest_lr
from jaxdl.lm.run import (
    RunResult,
    expand_grid,
    group_by_shape,
    init_state,
    init_states,
    results_table,
    run_spec,
    train_run,
    train_sweep,
    write_table,
)
from jaxdl.lm.sample import decode_samples, sample
from jaxdl.lm.train import (
    create_state,
    lm_eval,
    lm_loss,
    make_optimizer,
    make_split_evaluator,
    make_trainer,
    step_decay_sgd,
    train_steps,
    with_hyperparams,
)

__all__ = [
    "RunResult",
    "create_state",
    "decode_samples",
    "expand_grid",
    "exponential_lrs",
    "group_by_shape",
    "init_state",
    "init_states",
    "lm_eval",
    "lm_loss",
    "lr_find",
    "make_optimizer",
    "make_split_evaluator",
    "make_trainer",
    "results_table",
    "run_spec",
    "sample",
    "smooth",
    "step_decay_sgd",
    "suggest_lr",
    "train_run",
    "train_steps",
    "train_sweep",
    "with_hyperparams",
    "write_table",
]
