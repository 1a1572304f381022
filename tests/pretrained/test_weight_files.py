"""Weight and config files: safetensors are read, pickles only on opt-in, and a corrupt file
ends in one sentence naming it. Tiny files written into tmp_path; torch only where needed."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from jaxdl.errors import JaxdlError, PretrainedFileError, PretrainedNotFoundError
from jaxdl.pretrained import from_pretrained, resolve_model_dir
from jaxdl.pretrained._files import read_tensors

# A DistilBERT config.json small enough that nothing is ever large; the corrupt-file tests
# fail before any model is built.
CONFIG = {
    "model_type": "distilbert",
    "vocab_size": 120,
    "dim": 32,
    "n_layers": 2,
    "n_heads": 4,
    "hidden_dim": 64,
    "max_position_embeddings": 40,
}
TENSORS = {
    "a.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
    "b.bias": np.ones(5, np.float32),
}


def folder_with_config(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    return tmp_path


def one_sentence(error: pytest.ExceptionInfo, file: Path) -> str:
    message = str(error.value)
    assert str(file) in message
    assert "\n" not in message and message.endswith(".")
    assert isinstance(error.value, JaxdlError)  # the CLI prints these as `error: ...`
    return message


class _Marker:
    """Unpickling this creates ``path``: proof that a file was (or was not) unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_pickle_is_refused_by_default(tmp_path):
    folder = folder_with_config(tmp_path)
    marker = tmp_path / "unpickled"
    binary = folder / "pytorch_model.bin"
    binary.write_bytes(pickle.dumps({"a.weight": _Marker(marker)}))
    with pytest.raises(PretrainedFileError) as error:
        from_pretrained(folder)
    message = one_sentence(error, binary)
    assert "allow_pickle=True" in message and "model.safetensors" in message
    assert isinstance(error.value, ValueError)
    assert not marker.exists()


def test_pickle_with_objects_is_refused_even_with_the_opt_in(tmp_path):
    torch = pytest.importorskip("torch")
    folder = folder_with_config(tmp_path)
    marker = tmp_path / "unpickled"
    binary = folder / "pytorch_model.bin"
    torch.save({"a.weight": torch.zeros(2), "b": _Marker(marker)}, binary)
    with pytest.raises(PretrainedFileError) as error:
        from_pretrained(folder, allow_pickle=True)
    assert "refused by torch.load(weights_only=True)" in one_sentence(error, binary)
    assert not marker.exists()


def test_truncated_pickle_with_the_opt_in(tmp_path):
    torch = pytest.importorskip("torch")
    binary = tmp_path / "pytorch_model.bin"
    torch.save({k: torch.from_numpy(v) for k, v in TENSORS.items()}, binary)
    binary.write_bytes(binary.read_bytes()[:100])
    with pytest.raises(PretrainedFileError) as error:
        read_tensors(tmp_path, allow_pickle=True)
    assert "not a readable PyTorch file" in one_sentence(error, binary)


def test_opt_in_reads_the_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({k: torch.from_numpy(v) for k, v in TENSORS.items()}, tmp_path / "pytorch_model.bin")
    out = read_tensors(tmp_path, allow_pickle=True)
    assert set(out) == set(TENSORS)
    for name, value in TENSORS.items():
        np.testing.assert_array_equal(out[name], value)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_safetensors(tmp_path, damage):
    folder = folder_with_config(tmp_path)
    file = folder / "model.safetensors"
    save_file(TENSORS, file)
    data = file.read_bytes()
    file.write_bytes(
        {"truncated": data[:-7], "garbage": b"not a tensor file " * 9, "empty": b""}[damage]
    )
    with pytest.raises(PretrainedFileError) as error:
        from_pretrained(folder)
    assert "not a readable safetensors file" in one_sentence(error, file)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"model_type": "distilbert",', "not readable JSON"),
        (b"\xff\xfe\x00garbage", "not readable JSON"),
        (b"[1, 2]", "holds a JSON list"),
    ],
)
def test_corrupt_config(tmp_path, content, expected):
    file = tmp_path / "config.json"
    file.write_bytes(content)
    save_file(TENSORS, tmp_path / "model.safetensors")
    with pytest.raises(PretrainedFileError) as error:
        from_pretrained(tmp_path)
    assert expected in one_sentence(error, file)


def test_config_without_a_size(tmp_path):
    config = {k: v for k, v in CONFIG.items() if k != "dim"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config has no dim, expected every size"):
        from_pretrained(tmp_path)


def write_shards(folder: Path, *, names: tuple[str, str] = ("m-1.safetensors", "m-2.safetensors")):
    save_file({"a.weight": TENSORS["a.weight"]}, folder / names[0])
    save_file({"b.bias": TENSORS["b.bias"]}, folder / names[1])
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a.weight": names[0], "b.bias": names[1]}}))
    return index


def test_sharded_safetensors_are_read(tmp_path):
    write_shards(tmp_path)
    out = read_tensors(tmp_path)
    assert set(out) == set(TENSORS)
    np.testing.assert_array_equal(out["a.weight"], TENSORS["a.weight"])


def test_missing_shard(tmp_path):
    folder = folder_with_config(tmp_path)
    index = write_shards(folder)
    (folder / "m-2.safetensors").unlink()
    with pytest.raises(PretrainedNotFoundError) as error:
        from_pretrained(folder)
    assert "names m-2.safetensors, missing from" in one_sentence(error, index)


@pytest.mark.parametrize(
    "content",
    ['{"weight_map": ', '{"metadata": {}}', '{"weight_map": {"a.weight": "../m-1.safetensors"}}'],
)
def test_bad_shard_index(tmp_path, content):
    write_shards(tmp_path)
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(content)
    with pytest.raises(PretrainedFileError) as error:
        read_tensors(tmp_path)
    one_sentence(error, index)


def test_corrupt_shard(tmp_path):
    write_shards(tmp_path)
    shard = tmp_path / "m-1.safetensors"
    shard.write_bytes(shard.read_bytes()[:-3])
    with pytest.raises(PretrainedFileError) as error:
        read_tensors(tmp_path)
    one_sentence(error, shard)


def test_bfloat16_safetensors_are_read(tmp_path):
    save_file({"w": np.full((2, 3), 1.5, ml_dtypes.bfloat16)}, tmp_path / "model.safetensors")
    np.testing.assert_array_equal(np.asarray(read_tensors(tmp_path)["w"], np.float32), 1.5)


def test_hub_download_fetches_the_pickle_only_on_opt_in(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(*, repo_id, allow_patterns):
        calls.append(list(allow_patterns))
        return str(tmp_path)  # a repository with config.json and pytorch_model.bin only

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    resolve_model_dir("someone/model")
    assert len(calls) == 1 and not any("bin" in p for p in calls[0])
    resolve_model_dir("someone/model", allow_pickle=True)
    assert len(calls) == 3 and "pytorch_model.bin" in calls[2]
    save_file(TENSORS, tmp_path / "model.safetensors")  # safetensors: no second download
    resolve_model_dir("someone/model", allow_pickle=True)
    assert len(calls) == 4
