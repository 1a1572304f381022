"""Explain a text model's outputs token by token and evaluate the explanations.

A sentence-embedding model (BERT, e.g. all-MiniLM-L6-v2) explains the cosine similarity
of sentence pairs (relevance over the first sentence's tokens); a DistilBERT classifier
explains the logit of its predicted class. Every method is scored by the input
perturbation curve (most relevant tokens replaced first) and its area (AOPC).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx
from jax.sharding import Mesh
from tqdm import tqdm

from jaxdl import parallel
from jaxdl.nn import SentenceEncoder
from jaxdl.pretrained import encode, from_pretrained, load_tokenizer
from jaxdl.training import Run
from jaxdl.viz import figure, save_figure
from jaxdl.xai import (
    METHODS,
    attention_relevance,
    candidate_mask,
    explain_logit,
    explain_similarity,
    heatmap_html,
    jit_forward,
    perturbation_curve,
    save_heatmap_png,
)

from .._common import open_run, setup
from ..cli_config import ConfigError
from .texts import PAIRS, REVIEWS

BASELINES = ("attention", "random")


def read_texts(config: ml_collections.ConfigDict, *, pairs: bool) -> list:
    """The texts to explain: ``texts_file`` lines (tab-separated pairs) or the built-ins."""
    if config.texts_file:
        lines = Path(config.texts_file).read_text(encoding="utf-8").splitlines()
        lines = [line for line in lines if line.strip()]
        if pairs:
            texts = []
            for i, line in enumerate(lines):
                parts = line.split("\t")
                if len(parts) != 2:
                    raise ConfigError(
                        f"{config.texts_file} line {i + 1} has {len(parts)} tab-separated "
                        "parts, expected 'first sentence<TAB>second sentence'."
                    )
                texts.append(tuple(parts))
        else:
            texts = lines
    else:
        texts = list(PAIRS if pairs else REVIEWS)
    if config.num_texts:
        texts = texts[: config.num_texts]
    if not texts:
        raise ConfigError("There are no texts to explain; check config.texts_file.")
    return texts


def _check_methods(methods) -> None:
    known = (*METHODS, *BASELINES)
    for m in methods:
        if m not in known:
            raise ConfigError(f"config.methods has {m!r}, expected some of {', '.join(known)}.")


def _relevances(model, method, batch, other, key) -> tuple[jax.Array, jax.Array | None]:
    """``(relevance (B, T), explained value (B,) or None for the baselines)``."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if method == "random":
        return jax.random.uniform(key, ids.shape) * mask, None
    if method == "attention":
        return attention_relevance(model, ids, mask), None
    if other is not None:
        return explain_similarity(
            model, ids, mask, other["input_ids"], other["attention_mask"], method=method
        )
    return explain_logit(model, ids, mask, method=method)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Explains the texts, writes heatmaps, curves and the summary to ``workdir``."""
    mesh = setup(config)
    _check_methods(config.methods)
    run = open_run(config, workdir, "explain_text", tensorboard=False, checkpoints=False)
    with run:
        return _explain(config, run, mesh)


def place_model(model: nnx.Module, mesh: Mesh) -> nnx.Module:
    """``model`` with its weights on ``mesh``: split over a ``model`` axis (Megatron, see
    :mod:`jaxdl.parallel.tensor`), replicated over ``data``; the jitted explanations
    then run on every device of the mesh."""
    parallel.check_heads(model, mesh)
    state = nnx.state(model)
    nnx.update(model, parallel.place(state, parallel.state_shardings(state, mesh)))
    return model


def _on_mesh(batch: dict[str, jax.Array], mesh: Mesh | None) -> dict[str, jax.Array]:
    """The texts split over the mesh's batch axes (whole on every device of ``model``)."""
    if mesh is None:
        return batch
    sharding = parallel.batch_sharding(mesh)
    return parallel.place(batch, {k: sharding for k in batch})


def _explain(config: ml_collections.ConfigDict, run: Run, mesh: Mesh | None) -> dict[str, Any]:
    """Explains with every method of ``config.methods`` and writes the outputs."""
    model = from_pretrained(config.model)
    if mesh is not None:
        model = place_model(model, mesh)
    tokenizer = load_tokenizer(config.model)
    if config.replacement not in tokenizer.get_vocab():
        raise ConfigError(f"config.replacement {config.replacement!r} is not in the vocabulary.")
    replacement = tokenizer.convert_tokens_to_ids(config.replacement)
    pairs = isinstance(model, SentenceEncoder)
    texts = read_texts(config, pairs=pairs)
    if mesh is not None:
        parallel.check_batch_size(len(texts), mesh, name="the number of texts")
    max_length = min(config.max_length, model.config.max_position_embeddings)
    firsts = [t[0] for t in texts] if pairs else texts
    batch = _on_mesh(encode(tokenizer, firsts, max_length=max_length), mesh)
    forward = jit_forward(model)
    if pairs:
        other = _on_mesh(encode(tokenizer, [t[1] for t in texts], max_length=max_length), mesh)
        other_emb = forward(other["input_ids"], other["attention_mask"])
        values = forward(batch["input_ids"], batch["attention_mask"]) @ other_emb.T
        predictions = np.diag(np.asarray(values))

        def score(ids, mask, example):
            return jnp.sum(forward(ids, mask) * other_emb[example], axis=-1)

    else:
        other = None
        logits = forward(batch["input_ids"], batch["attention_mask"])
        target = jnp.argmax(logits, axis=-1)
        predictions = np.asarray(jax.nn.softmax(logits, axis=-1))

        def score(ids, mask, example):
            return forward(ids, mask)[jnp.arange(ids.shape[0]), target[example]]

    candidates = candidate_mask(
        batch["input_ids"], batch["attention_mask"], tokenizer.all_special_ids
    )
    ids_np, mask_np = np.asarray(batch["input_ids"]), np.asarray(batch["attention_mask"])
    tokens = [
        tokenizer.convert_ids_to_tokens(row[: int(m.sum())].tolist())
        for row, m in zip(ids_np, mask_np, strict=True)
    ]
    key = jax.random.key(config.seed)
    metrics: dict[str, Any] = {}
    curves, relevances = {}, {}
    for i, method in enumerate(tqdm(config.methods, desc="explain", unit="method")):
        rel, value = _relevances(model, method, batch, other, jax.random.fold_in(key, i))
        if method == "lrp":
            # Not zero: biases take a share of the output; reported, not asserted.
            gap = jnp.abs(rel.sum(-1) - value) / jnp.abs(value)
            metrics["lrp_relative_conservation_gap"] = float(jnp.mean(gap))
        curve = perturbation_curve(
            score,
            batch["input_ids"],
            batch["attention_mask"],
            rel,
            candidates,
            replacement_id=replacement,
            num_steps=config.num_steps,
        )
        relevances[method] = np.asarray(rel)
        curves[method] = np.asarray(curve.values).mean(0)
        metrics[f"aopc_{method}"] = float(curve.aopc)
        for s, (f, v) in enumerate(zip(curve.fractions, curves[method], strict=True)):
            run.log({"method": method, "fraction": float(f), "mean_value": float(v)}, step=s)
    metrics["mean_cosine" if pairs else "mean_confidence"] = float(
        np.mean(predictions if pairs else predictions.max(-1))
    )
    if "aopc_lrp" in metrics and "aopc_random" in metrics:
        metrics["lrp_beats_random"] = bool(metrics["aopc_lrp"] > metrics["aopc_random"])
    if run.workdir is not None:
        _write_outputs(run.workdir, config, texts, tokens, relevances, curves, predictions, pairs)
    return run.finish(
        metrics,
        explained="cosine similarity of sentence pairs" if pairs else "predicted-class logit",
        num_texts=len(texts),
    )


def _write_outputs(workdir, config, texts, tokens, relevances, curves, predictions, pairs):
    def caption(i):
        if pairs:
            return f"vs. '{texts[i][1]}' (cosine {predictions[i]:.3f})"
        return f"class {int(predictions[i].argmax())} (p={predictions[i].max():.3f})"

    sections = []
    for method, rel in relevances.items():
        toks = tokens
        rels = [rel[i, : len(t)] for i, t in enumerate(toks)]
        caps = [f"{method}: {caption(i)}" for i in range(len(toks))]
        sections.append(heatmap_html(toks, rels, captions=caps, title=method))
        save_heatmap_png(toks, rels, workdir / f"heatmap_{method}.png", captions=caps, title=method)
    (workdir / "heatmaps.html").write_text("\n".join(sections), encoding="utf-8")

    fig, ax = figure(figsize=(5, 3.5))
    fractions = np.arange(config.num_steps + 1) / config.num_steps
    for method, curve in curves.items():
        ax.plot(fractions, curve, marker="o", label=method)
    ax.set_xlabel(f"fraction of tokens replaced by {config.replacement} (most relevant first)")
    ax.set_ylabel("mean cosine similarity" if pairs else "mean explained logit")
    ax.legend()
    save_figure(fig, workdir / "perturbation.png", dpi=110)

    records = []
    for i, t in enumerate(tokens):
        rec = {"text": texts[i], "tokens": t}
        if pairs:
            rec["cosine"] = float(predictions[i])
        else:
            rec["probabilities"] = predictions[i].tolist()
        rec["relevance"] = {m: r[i, : len(t)].tolist() for m, r in relevances.items()}
        records.append(rec)
    (workdir / "explanations.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
