"""Bias and variance from learning curves (jaxdl.training.diagnostics.diagnose)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxdl.training.diagnostics import Diagnosis, Verdict, diagnose

SIZES = [100, 1000, 10000]


@pytest.mark.parametrize(
    "train, val, verdict",
    [
        # Both curves meet near the target: nothing to fix.
        ([0.00, 0.03, 0.06], [0.30, 0.12, 0.07], Verdict.FINE),
        # They meet, but far above the target: the model cannot fit (bias).
        ([0.05, 0.15, 0.20], [0.40, 0.25, 0.21], Verdict.HIGH_BIAS),
        # Training error at the target, validation far above it (variance).
        ([0.00, 0.01, 0.02], [0.40, 0.25, 0.15], Verdict.HIGH_VARIANCE),
        # Training error above the target and a wide gap as well.
        ([0.05, 0.12, 0.15], [0.50, 0.35, 0.30], Verdict.BOTH),
    ],
)
def test_each_branch_of_the_rule(train, val, verdict):
    d = diagnose(train, val, target_error=0.05)
    assert d.verdict is verdict
    assert d.train_error == train[-1] and d.val_error == val[-1]
    assert math.isclose(d.bias_gap, train[-1] - 0.05)
    assert math.isclose(d.variance_gap, val[-1] - train[-1])
    assert verdict.value in str(d) and d.advice in str(d)


def test_only_the_largest_training_set_decides():
    # Any small set shows a wide gap; here it closes by the last size.
    assert diagnose([0.0, 0.05], [0.5, 0.06], target_error=0.05).verdict is Verdict.FINE
    # ... and here it opens only at the last size.
    assert diagnose([0.05, 0.05], [0.06, 0.5], target_error=0.05).verdict is Verdict.HIGH_VARIANCE


def test_margins_are_strict_thresholds():
    d = diagnose(0.07, 0.09, target_error=0.05, bias_margin=0.03, variance_margin=0.03)
    assert d.verdict is Verdict.FINE  # 0.02 and 0.02 are within 0.03
    d = diagnose(0.07, 0.09, target_error=0.05, bias_margin=0.01, variance_margin=0.03)
    assert d.verdict is Verdict.HIGH_BIAS
    d = diagnose(0.07, 0.09, target_error=0.05, bias_margin=0.03, variance_margin=0.01)
    assert d.verdict is Verdict.HIGH_VARIANCE
    assert diagnose(0.5, 0.5, target_error=0.0, bias_margin=1.0).verdict is Verdict.FINE


def test_scalars_arrays_and_the_result_type():
    d = diagnose(np.float32(0.1), np.asarray([0.2]), target_error=0.1)
    assert isinstance(d, Diagnosis) and d.verdict is Verdict.HIGH_VARIANCE
    with pytest.raises(dataclasses_frozen()):
        d.train_error = 0.0  # type: ignore[misc]


def dataclasses_frozen():
    import dataclasses

    return dataclasses.FrozenInstanceError


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(train_error=[0.1, 0.2], val_error=[0.2]), "val_error has shape"),
        (dict(train_error=[[0.1]], val_error=[[0.2]]), r"train_error has shape \(1, 1\)"),
        (dict(train_error=[], val_error=[]), r"train_error has shape \(0,\)"),
        (dict(train_error=[0.1, math.nan], val_error=[0.2, 0.2]), "train_error is .*finite"),
        (dict(train_error=0.1, val_error=math.inf), "val_error is .*finite"),
        (dict(train_error=0.1, val_error=0.2, target_error=math.nan), "target_error is nan"),
        (dict(train_error=0.1, val_error=0.2, bias_margin=-0.1), "bias_margin is -0.1"),
        (dict(train_error=0.1, val_error=0.2, variance_margin=math.inf), "variance_margin is inf"),
    ],
)
def test_bad_inputs_are_value_errors_that_name_the_argument(kwargs, message):
    kwargs = {"target_error": 0.05, **kwargs}
    with pytest.raises(ValueError, match=message):
        diagnose(**kwargs)
