"""Bad checkpoints and unreachable names: one clear sentence each."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from jaxdl.errors import CheckpointMismatchError, PretrainedFileError, PretrainedNotFoundError
from jaxdl.pretrained import from_pretrained
from tests.pretrained.helpers import SMALL, save_distilbert

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distilbert")
    save_distilbert(folder, **SMALL)
    return folder


def _edit(saved, tmp_path, edit):
    tensors = load_file(saved / "model.safetensors")
    edit(tensors)
    save_file(tensors, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text((saved / "config.json").read_text())
    return tmp_path


def test_missing_tensor(saved, tmp_path):
    folder = _edit(saved, tmp_path, lambda t: t.pop("distilbert.transformer.layer.1.ffn.lin2.bias"))
    with pytest.raises(CheckpointMismatchError, match=r"missing distilbert.transformer.layer.1"):
        from_pretrained(folder)


def test_model_without_classification_head(tmp_path):
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(0)
    DistilBertModel(
        DistilBertConfig(**{k: v for k, v in SMALL.items() if k != "num_labels"})
    ).save_pretrained(tmp_path)
    with pytest.raises(CheckpointMismatchError) as info:
        from_pretrained(tmp_path)
    assert str(info.value).endswith(
        "missing classifier.bias, classifier.weight, pre_classifier.bias, pre_classifier.weight."
    )


def test_wrong_shape_and_unexpected(saved, tmp_path):
    def edit(t):
        t["classifier.weight"] = np.zeros((5, SMALL["dim"]), np.float32)
        t["extra.weight"] = np.zeros((2,), np.float32)

    folder = _edit(saved, tmp_path, edit)
    with pytest.raises(CheckpointMismatchError) as info:
        from_pretrained(folder)
    message = str(info.value)
    assert "unexpected extra.weight" in message
    assert "wrong shape classifier.weight (5, 32) (expected (3, 32))" in message
    assert "\n" not in message


def test_pytorch_bin_is_read_with_the_opt_in(saved, tmp_path):
    import torch

    tensors = {k: torch.from_numpy(v) for k, v in load_file(saved / "model.safetensors").items()}
    torch.save(tensors, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((saved / "config.json").read_text())
    with pytest.raises(PretrainedFileError, match="pass allow_pickle=True"):
        from_pretrained(tmp_path)
    a, b = from_pretrained(tmp_path, allow_pickle=True), from_pretrained(saved)
    ids = np.array([[1, 5, 7]])
    np.testing.assert_array_equal(np.asarray(a(ids)), np.asarray(b(ids)))


def test_unknown_model_type(saved, tmp_path):
    config = json.loads((saved / "config.json").read_text())
    config["model_type"] = "llama"
    folder = _edit(saved, tmp_path, lambda t: None)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="model_type='llama', expected 'distilbert', 'bert' or"):
        from_pretrained(folder)


def test_hub_name_offline_and_bad_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedNotFoundError, match="downloading it from the Hugging Face hub"):
        from_pretrained("distilbert-base-uncased-finetuned-sst-2-english")
    with pytest.raises(PretrainedNotFoundError, match="has no config.json"):
        from_pretrained(tmp_path)
    with pytest.raises(PretrainedNotFoundError, match="is not a directory"):
        from_pretrained(tmp_path / "nothing" / "here")


def test_sinusoidal_table_that_is_not_the_formula(tmp_path):
    save_distilbert(tmp_path / "saved", sinusoidal_pos_embds=True, **SMALL)
    name = "distilbert.embeddings.position_embeddings.weight"

    def edit(t):
        t[name] = t[name] + np.float32(0.01)  # e.g. fine-tuned: transformers trains it

    folder = _edit(tmp_path / "saved", tmp_path, edit)
    with pytest.raises(CheckpointMismatchError) as info:
        from_pretrained(folder)
    assert str(info.value) == (
        f"The checkpoint's {name} differs from the sinusoidal formula by up to 0.01 "
        "(tolerance 1e-06), although config.json says sinusoidal_pos_embds=true; set it to "
        "false to load the table as learned positions."
    )
