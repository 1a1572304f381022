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
)
from jaxdl.charlm.optim import make_optimizer, step_decay_sgd
from jaxdl.charlm.sample import decode_samples, sample
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
    "scan_unroll",
    "step_decay_sgd",
    "train_char_lm",
]
