"""The explain_text recipe on all-MiniLM-L6-v2 (quick) and on a small DistilBERT folder."""

from __future__ import annotations

import json
import shutil

import pytest

from jaxdl.pretrained import minilm_dir
from train.__main__ import main
from train.explain_text.configs import quick
from train.explain_text.train import train_and_evaluate

TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


@pytest.mark.slow
def test_quick_minilm_lrp_beats_random(tmp_path):
    summary = train_and_evaluate(quick.get_config(), tmp_path)
    m = summary["metrics"]
    # On 8 paraphrase pairs: LRP finds the tokens the similarity rests on.
    assert m["aopc_lrp"] > m["aopc_random"] + 0.05, m
    assert m["lrp_beats_random"] is True
    assert 0.3 < m["mean_cosine"] < 1.0
    for name in (
        "summary.json",
        "metrics.jsonl",
        "heatmaps.html",
        "perturbation.png",
        "heatmap_lrp.png",
        "explanations.json",
    ):
        assert (tmp_path / name).is_file(), name
    records = json.loads((tmp_path / "explanations.json").read_text())
    assert len(records) == 8 and set(records[0]["relevance"]) == {
        "gradient_x_input",
        "lrp",
        "attention",
        "random",
    }
    assert len(records[0]["tokens"]) == len(records[0]["relevance"]["lrp"])
    # 4 methods x (num_steps + 1) curve points.
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4 * 5


@pytest.mark.slow
def test_classifier_folder_and_texts_file(tmp_path):
    pytest.importorskip("torch")
    from tests.pretrained.helpers import save_distilbert

    folder = tmp_path / "model"
    save_distilbert(
        folder,
        vocab_size=30522,
        dim=32,
        n_layers=1,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=64,
    )
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_dir() / name, folder / name)
    texts = tmp_path / "texts.txt"
    texts.write_text("A wonderful film.\n\nThe worst meal I ever had.\n")
    config = quick.get_config()
    config.model, config.texts_file = str(folder), str(texts)
    config.methods, config.replacement = ("lrp", "random"), "[MASK]"
    summary = train_and_evaluate(config, tmp_path / "run")
    m = summary["metrics"]
    assert 0.5 <= m["mean_confidence"] <= 1.0
    assert m["lrp_relative_conservation_gap"] >= 0.0
    assert "class" in (tmp_path / "run" / "heatmaps.html").read_text()


def test_config_mistakes_are_one_line(tmp_path, capsys):
    code = main(
        [
            "explain_text",
            "--config=quick",
            f"--workdir={tmp_path}",
            "--config.methods=('saliency',)",
        ]
    )
    assert code == 2  # a usage error
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: config.methods has 'saliency'") and "\n" not in err


@pytest.mark.parametrize("weights", ["model.safetensors", "pytorch_model.bin"])
def test_bad_weights_are_one_line(tmp_path, capsys, weights):
    # A corrupt safetensors file and a pickle nobody opted into: one `error:` line each,
    # naming the file, before any model is built.
    folder = tmp_path / "model"
    shutil.copytree(minilm_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / weights).write_bytes(b"not weights at all")
    code = main(
        [
            "explain_text",
            "--config=quick",
            f"--workdir={tmp_path / 'run'}",
            f"--config.model={folder}",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {folder / weights} ") and "\n" not in err
