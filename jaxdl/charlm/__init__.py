"""Character-level language models (seed 002, makemore): the run spec, the objective,
the step-decay optimiser and sampling. Training goes through :func:`jaxdl.training.train`
with a :class:`jaxdl.training.Sampled` source; the models are in :mod:`jaxdl.nn.char_lm`.
"""

from jaxdl.charlm.objective import (
    SPLITS,
    as_device_data,
    lm_eval,
    lm_loss,
    make_split_evaluator,
    seq_lm_loss,
    whole_words,
)
from jaxdl.charlm.optim import make_optimizer, step_decay_adamw, step_decay_sgd
from jaxdl.charlm.sample import decode_samples, sample, sample_cached
from jaxdl.charlm.spec import (
    CharLMRun,
    create_state,
    group_by_shape,
    init_states,
    scan_unroll,
    train_char_lm,
)

__all__ = [
    "SPLITS",
    "CharLMRun",
    "as_device_data",
    "create_state",
    "decode_samples",
    "group_by_shape",
    "init_states",
    "lm_eval",
    "lm_loss",
    "make_optimizer",
    "make_split_evaluator",
    "sample",
    "sample_cached",
    "scan_unroll",
    "seq_lm_loss",
    "step_decay_adamw",
    "step_decay_sgd",
    "whole_words",
    "train_char_lm",
]
