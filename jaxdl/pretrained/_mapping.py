"""Hugging Face tensor names of DistilBERT and BERT onto jaxdl's NNX module paths."""

from __future__ import annotations

from collections.abc import Iterator

import jax.numpy as jnp
import numpy as np

from jaxdl.errors import CheckpointMismatchError
from jaxdl.nn.positions import sinusoidal_positions
from jaxdl.nn.transformer import TransformerConfig

# torch.nn.Linear stores (out, in); nnx.Linear's kernel is (in, out).
LINEAR, COPY = "linear", "copy"

# Tensors a checkpoint may hold that jaxdl does not use: buffers, and BERT's [CLS] pooler,
# which mean pooling ignores.
_IGNORED_SUFFIXES = ("position_ids", "token_type_ids")
_IGNORED_PREFIXES = ("pooler.",)


DISTILBERT_POSITIONS = "distilbert.embeddings.position_embeddings.weight"


def drop_sinusoidal_table(
    tensors: dict[str, np.ndarray], config: TransformerConfig
) -> dict[str, np.ndarray]:
    """``tensors`` without DistilBERT's stored sinusoidal table, once it is checked to be
    the formula's (jaxdl computes it, so a table trained away from it cannot be honoured).

    Raises:
      CheckpointMismatchError: the stored table has another shape or other values.
    """
    tensors = dict(tensors)
    stored = tensors.pop(DISTILBERT_POSITIONS, None)
    if stored is None:
        return tensors
    expected = np.asarray(sinusoidal_positions(config.max_position_embeddings, config.dim))
    # Allow the rounding of the stored precision (float16 checkpoints), nothing more.
    tol = 1e-6 + float(jnp.finfo(stored.dtype).eps)
    if stored.shape != expected.shape:
        problem = f"has shape {tuple(stored.shape)}, expected {expected.shape}"
    else:
        err = float(np.abs(np.asarray(stored, np.float32) - expected).max(initial=0.0))
        if err <= tol:
            return tensors
        problem = f"differs from the sinusoidal formula by up to {err:.3g} (tolerance {tol:.1g})"
    raise CheckpointMismatchError(
        f"The checkpoint's {DISTILBERT_POSITIONS} {problem}, although config.json says "
        "sinusoidal_pos_embds=true; set it to false to load the table as learned positions."
    )


def _linear(hf: str, path: tuple) -> Iterator[tuple[str, tuple, str]]:
    yield f"{hf}.weight", (*path, "kernel"), LINEAR
    yield f"{hf}.bias", (*path, "bias"), COPY


def _norm(hf: str, path: tuple) -> Iterator[tuple[str, tuple, str]]:
    yield f"{hf}.weight", (*path, "scale"), COPY
    yield f"{hf}.bias", (*path, "bias"), COPY


def distilbert_names(config: TransformerConfig, *, head: bool) -> dict[str, tuple[tuple, str]]:
    """``{hf_name: (nnx_path, kind)}`` for DistilBERT (``head``: the classification head)."""
    enc = ("encoder",)
    items = [
        (
            "distilbert.embeddings.word_embeddings.weight",
            (*enc, "embeddings", "word_embeddings", "embedding"),
            COPY,
        ),
        *_norm("distilbert.embeddings.LayerNorm", (*enc, "embeddings", "layer_norm")),
    ]
    if config.position_embedding_type == "learned":  # a sinusoidal table is computed
        items.append(
            (
                DISTILBERT_POSITIONS,
                (*enc, "embeddings", "position_embeddings", "embedding"),
                COPY,
            )
        )
    for i in range(config.n_layers):
        hf, p = f"distilbert.transformer.layer.{i}", (*enc, "layers", i)
        for lin in ("q_lin", "k_lin", "v_lin", "out_lin"):
            items += _linear(f"{hf}.attention.{lin}", (*p, "attention", lin))
        items += _norm(f"{hf}.sa_layer_norm", (*p, "sa_layer_norm"))
        items += _linear(f"{hf}.ffn.lin1", (*p, "ffn", "lin1"))
        items += _linear(f"{hf}.ffn.lin2", (*p, "ffn", "lin2"))
        items += _norm(f"{hf}.output_layer_norm", (*p, "output_layer_norm"))
    if head:
        items += _linear("pre_classifier", ("pre_classifier",))
        items += _linear("classifier", ("classifier",))
    return {name: (path, kind) for name, path, kind in items}


def bert_names(config: TransformerConfig) -> dict[str, tuple[tuple, str]]:
    """``{hf_name: (nnx_path, kind)}`` for a ``BertModel`` (no prefix, no pooler)."""
    emb = ("encoder", "embeddings")
    items = [
        ("embeddings.word_embeddings.weight", (*emb, "word_embeddings", "embedding"), COPY),
        ("embeddings.position_embeddings.weight", (*emb, "position_embeddings", "embedding"), COPY),
        (
            "embeddings.token_type_embeddings.weight",
            (*emb, "token_type_embeddings", "embedding"),
            COPY,
        ),
        *_norm("embeddings.LayerNorm", (*emb, "layer_norm")),
    ]
    for i in range(config.n_layers):
        hf, p = f"encoder.layer.{i}", ("encoder", "layers", i)
        for name, lin in (("query", "q_lin"), ("key", "k_lin"), ("value", "v_lin")):
            items += _linear(f"{hf}.attention.self.{name}", (*p, "attention", lin))
        items += _linear(f"{hf}.attention.output.dense", (*p, "attention", "out_lin"))
        items += _norm(f"{hf}.attention.output.LayerNorm", (*p, "sa_layer_norm"))
        items += _linear(f"{hf}.intermediate.dense", (*p, "ffn", "lin1"))
        items += _linear(f"{hf}.output.dense", (*p, "ffn", "lin2"))
        items += _norm(f"{hf}.output.LayerNorm", (*p, "output_layer_norm"))
    return {name: (path, kind) for name, path, kind in items}


def normalise_names(tensors: dict[str, np.ndarray], *, bert: bool) -> dict[str, np.ndarray]:
    """Old ``gamma``/``beta`` LayerNorm names to ``weight``/``bias``; a ``bert.`` prefix
    (BertFor... checkpoints) dropped, a ``distilbert.`` prefix added to a bare
    DistilBertModel's names; unused buffers and the pooler dropped."""
    out = {}
    # A bare DistilBertModel saves its tensors without the "distilbert." prefix that the
    # task models use; add it so only the head shows up as missing.
    bare = not bert and not any(k.startswith("distilbert.") for k in tensors)
    for name, value in tensors.items():
        if bare and not name.startswith(("pre_classifier.", "classifier.")):
            name = "distilbert." + name
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight")
        name = name.replace("LayerNorm.beta", "LayerNorm.bias")
        if bert and name.startswith("bert."):
            name = name[len("bert.") :]
        if name.endswith(_IGNORED_SUFFIXES) or (bert and name.startswith(_IGNORED_PREFIXES)):
            continue
        out[name] = value
    return out


def _variable(model, path: tuple):
    node = model
    for part in path:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


def assign(
    model,
    tensors: dict[str, np.ndarray],
    names: dict[str, tuple[tuple, str]],
    *,
    what: str = "the model from its config.json",
) -> None:
    """Copies ``tensors`` into ``model``'s variables in place (``what`` names the model in
    the error).

    Raises:
      CheckpointMismatchError: listing every missing, unexpected and wrong-shaped tensor.
    """
    missing = sorted(set(names) - set(tensors))
    unexpected = sorted(set(tensors) - set(names))
    wrong = []
    values = {}
    for name, (path, kind) in names.items():
        if name not in tensors:
            continue
        value = np.asarray(tensors[name], np.float32)
        if kind == LINEAR:
            value = value.T
        var = _variable(model, path)
        if tuple(var.get_value().shape) != value.shape:
            expected = var.get_value().shape[::-1] if kind == LINEAR else var.get_value().shape
            wrong.append(f"{name} {tuple(tensors[name].shape)} (expected {tuple(expected)})")
        values[path] = value
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected)}")
    if wrong:
        problems.append(f"wrong shape {', '.join(wrong)}")
    if problems:
        raise CheckpointMismatchError(
            f"The checkpoint does not fit {what}: " + "; ".join(problems) + "."
        )
    for path, value in values.items():
        _variable(model, path).set_value(jnp.asarray(value))
