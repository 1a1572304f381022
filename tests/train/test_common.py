"""The recipes' shared config helpers (train/_common.py)."""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import pytest

from train import _common
from train.cli_config import ConfigError


def test_run_and_data_fields_leave_out_none():
    c = _common.add_run_fields(
        ml_collections.ConfigDict(), num_epochs=3, batch_size=8, eval_batch_size=None
    )
    _common.add_data_fields(c, test_examples=None)
    assert c.to_dict() == {
        "num_epochs": 3,
        "batch_size": 8,
        "steps_per_dispatch": 0,
        "seed": 0,
        "max_to_keep": 2,
        "progress": True,
        "train_examples": 0,
        "data_dir": "",
    }


def test_override_refuses_a_field_the_config_lacks():
    c = ml_collections.ConfigDict({"learning_rate": 0.1})
    with pytest.raises(ConfigError, match="no field lerning_rate"):
        _common.override(c, lerning_rate=0.2)
    assert _common.override(c, learning_rate=0.2).learning_rate == 0.2


def test_quick_run_sets_only_the_fields_the_config_has():
    c = ml_collections.ConfigDict({"batch_size": 128, "progress": True, "channels": (32, 64)})
    c = _common.quick_run(c, channels=(4, 8))
    assert c.to_dict() == {"batch_size": 32, "progress": False, "channels": (4, 8)}
    # An explicit field wins over QUICK_RUN.
    assert _common.quick_run(c, batch_size=16).batch_size == 16


def test_setup_and_loss_scale_read_the_scale_fields():
    c = _common.add_scale_fields(ml_collections.ConfigDict())
    assert _common.setup(c) is None and _common.loss_scale(c) is None
    c.mesh, c.precision = "data=1", "float16"
    assert dict(_common.setup(c).shape) == {"data": 1}
    scale = _common.loss_scale(c)
    assert scale.loss_scale.dtype == jnp.float32 and float(scale.loss_scale) == 2.0**15
    c.precision = "fp8"
    with pytest.raises(ValueError, match="precision is 'fp8'"):
        _common.setup(c)
