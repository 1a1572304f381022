"""HuBERT-style masked prediction on the synthetic spoken digits, then CTC on its features.

The synthetic speech (:func:`~jaxdl.data.synthetic_speech.speech_batch`) is already a
sequence of frame feature vectors (a digit's prototype plus noise per frame, no
waveform), so those frames play the part of HuBERT's MFCCs. Each iteration:

1. fits k-means (:func:`jaxdl.classic.kmeans`) to the teacher's features of a fixed
   sample of utterances: the raw frames in iteration 1, layer ``target_layer`` of the
   previous iteration's encoder after that; the cluster ids are the targets;
2. scores the targets' consistency on held-out utterances: purity and normalised mutual
   information (NMI) against the digit each frame says (the generator's
   ``frame_symbols``, silence a class of its own), and NMI between two k-means fits
   from different seeds;
3. trains a fresh :class:`~jaxdl.nn.hubert.FrameEncoder` to predict the targets of
   span-masked frames (stage ``hubert{i}``).

Then the recipe's CTC tagger is trained, same model, steps and data, on the raw frames
(stage ``ctc_raw``) and on each frozen encoder's layer ``feature_layer`` (``ctc_iter{i}``),
and ``hubert.md`` tabulates the label error rates beside the targets' consistency.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from jaxdl.classic.kmeans import assign, kmeans
from jaxdl.data.synthetic_speech import speech_batch
from jaxdl.metrics import cluster_purity, contingency, normalized_mutual_information
from jaxdl.nn.ctc import CTCTagger, ctc_tagger_loss, ctc_tagger_metrics
from jaxdl.nn.hubert import (
    FrameEncoder,
    MaskedBatch,
    masked_prediction_metrics,
    masked_prediction_step,
    span_mask,
)
from jaxdl.nn.transformer import TransformerConfig

from .._common import check_scale_support, open_run, setup
from .train import _SPEECH_FIELDS, UNSUPPORTED, _train_task

#: Featurizer: (frames (B, T, F), lengths (B,)) -> features (B, T, D), zero on padding.
Featurize = Callable[[jax.Array, jax.Array], jax.Array]

_UNSUPPORTED = UNSUPPORTED | {
    "mesh": "the HuBERT stages run on one device (their batches are featurised by a "
    "frozen encoder inside the step, not split over a mesh)",
    "accum_steps": "the HuBERT stages take whole batches",
}


def _raw(frames: jax.Array, lengths: jax.Array) -> jax.Array:
    del lengths  # the generator already zeroes the padding
    return frames


def _frozen(model: FrameEncoder, layer: int) -> Featurize:
    """``model.features(..., layer=layer)`` with the weights fixed (no gradient flows to
    them: they enter the later stages' steps as constants)."""
    graphdef, state = nnx.split(model)

    def featurize(frames, lengths):
        return jax.lax.stop_gradient(
            nnx.merge(graphdef, state).features(frames, lengths, layer=layer)
        )

    return featurize


def _valid(x: jax.Array, lengths: jax.Array) -> np.ndarray:
    """The rows of ``x`` (B, T, ...) at valid frames, stacked: (frames, ...)."""
    keep = np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return np.asarray(x)[keep]


def _targets(featurize: Featurize, centres: jax.Array) -> Callable[..., jax.Array]:
    """(frames, lengths) -> the nearest centre's id of each frame's features, (B, T)."""

    def ids(frames, lengths):
        f = featurize(frames, lengths)
        return assign(f.reshape(-1, f.shape[-1]), centres)[0].reshape(f.shape[:2])

    return ids


def _consistency(
    featurize: Featurize,
    centres: jax.Array,
    other: jax.Array,
    held_out: Any,
    *,
    num_classes: int,
) -> dict[str, jax.Array]:
    """Purity and NMI of the targets against the frames' digits on ``held_out``, and NMI
    between the targets of ``centres`` and of ``other`` (another seed's fit)."""
    k = centres.shape[0]
    frames, lengths = held_out.frames, held_out.frame_lengths
    valid = (jnp.arange(frames.shape[1])[None, :] < lengths[:, None]).reshape(-1)
    ids = _targets(featurize, centres)(frames, lengths).reshape(-1)
    ids_other = _targets(featurize, other)(frames, lengths).reshape(-1)
    truth = held_out.frame_symbols.reshape(-1)
    table = contingency(ids, truth, num_a=k, num_b=num_classes, where=valid)
    seeds = contingency(ids, ids_other, num_a=k, num_b=k, where=valid)
    return {
        "purity": cluster_purity(table),
        "nmi": normalized_mutual_information(table),
        "seed_nmi": normalized_mutual_information(seeds),
    }


def _fit_targets(
    featurize: Featurize, sample: Any, held_out: Any, h: ml_collections.ConfigDict, *,
    key: jax.Array, num_classes: int,
) -> tuple[jax.Array, dict[str, float]]:  # fmt: skip
    """k-means on the teacher's features of ``sample``'s valid frames: the centres, and
    the consistency of the targets they give (see :func:`_consistency`)."""
    x = _valid(jax.jit(featurize)(sample.frames, sample.frame_lengths), sample.frame_lengths)
    fit = functools.partial(kmeans, x, num_clusters=h.num_clusters,
                            num_restarts=h.kmeans_restarts)  # fmt: skip
    centres, other = fit(key=key).centres, fit(key=jax.random.fold_in(key, 1)).centres
    score = jax.jit(functools.partial(_consistency, featurize, num_classes=num_classes))
    return centres, {k: float(v) for k, v in score(centres, other, held_out).items()}


def _encoder_config(h: ml_collections.ConfigDict) -> TransformerConfig:
    return TransformerConfig(
        dim=h.dim,
        n_layers=h.n_layers,
        n_heads=h.n_heads,
        hidden_dim=h.hidden_dim,
        position_embedding_type=h.positions,
        dropout=h.dropout,
        attention_dropout=h.dropout,
        eps=1e-5,
    )


def _check(config: ml_collections.ConfigDict) -> None:
    h = config.hubert
    for name in ("target_layer", "feature_layer"):
        if not 0 <= h[name] <= h.n_layers:
            raise ValueError(
                f"config.hubert.{name} is {h[name]}, expected 0 <= {name} <= "
                f"config.hubert.n_layers ({h.n_layers})."
            )
    if h.iterations < 1:
        raise ValueError(f"config.hubert.iterations is {h.iterations}, expected at least 1.")
    pools = tuple(h.labelled_batches)
    if not pools or len(set(pools)) != len(pools) or min(pools) < 0:
        raise ValueError(
            f"config.hubert.labelled_batches is {pools!r}, expected distinct counts >= 0 "
            "(0: fresh utterances every step), at least one."
        )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """The HuBERT iterations and the CTC comparison; writes metrics.jsonl (records tagged
    by stage), per-stage curves, hubert.md and summary.json."""
    check_scale_support(config, _UNSUPPORTED)
    _check(config)
    setup(config)
    c, h, p = config.ctc, config.hubert, config.hubert.pretrain
    num_classes = c.num_symbols + 1  # the digits and silence
    speech = functools.partial(speech_batch, **{f: c[f] for f in _SPEECH_FIELDS})
    with open_run(config, workdir, "sequences", tensorboard=False, curves=False) as run:
        k_sample, k_held, k_km, k_pre, k_ctc = jax.random.split(jax.random.key(config.seed), 5)
        sample = speech(k_sample, batch_size=h.kmeans_utterances)
        held_out = speech(k_held, batch_size=h.kmeans_utterances)
        teacher: Featurize = _raw
        features: dict[str, Featurize] = {"raw": _raw}
        metrics: dict[str, float] = {}
        consistency: dict[str, dict[str, float]] = {}
        offset = 0  # epochs of the stages before
        for i in range(1, h.iterations + 1):
            centres, consistency[f"iter{i}"] = _fit_targets(
                teacher, sample, held_out, h, key=jax.random.fold_in(k_km, i),
                num_classes=num_classes,
            )  # fmt: skip
            targets = _targets(teacher, centres)

            def masked_batch(key, *, batch_size, targets=targets):
                b = speech(key, batch_size=batch_size)
                mask = span_mask(
                    jax.random.fold_in(key, 1),
                    b.frame_lengths,
                    time=b.frames.shape[1],
                    mask_prob=h.mask_prob,
                    span=h.span,
                )
                return MaskedBatch(b.frames, b.frame_lengths,
                                   targets(b.frames, b.frame_lengths), mask)  # fmt: skip

            result, seconds = _train_task(
                run,
                f"hubert{i}",
                p,
                key=jax.random.fold_in(k_pre, i),
                model_fn=lambda k: FrameEncoder(
                    c.features, h.num_clusters, _encoder_config(h), rngs=nnx.Rngs(k)
                ),
                batch_fn=masked_batch,
                eval_fn=lambda k: masked_batch(k, batch_size=p.eval_size),
                loss_fn=masked_prediction_step,
                metrics_fn=masked_prediction_metrics,
                progress=config.progress,
                epoch_offset=offset,
            )
            offset += -(-p.num_steps // p.chunk_steps)
            model = result.state.model()
            teacher = _frozen(model, h.target_layer)
            features[f"iter{i}"] = _frozen(model, h.feature_layer)
            for name in ("masked_accuracy", "unmasked_accuracy", "loss"):
                metrics[f"test_hubert{i}_{name}"] = result.metrics[f"test_{name}"]
            metrics[f"hubert{i}_seconds"] = seconds
        # The next iteration's targets, scored but not trained on: did they improve again?
        _, consistency[f"iter{h.iterations + 1}"] = _fit_targets(
            teacher, sample, held_out, h, key=jax.random.fold_in(k_km, h.iterations + 1),
            num_classes=num_classes,
        )  # fmt: skip
        for it, scores in consistency.items():
            metrics |= {f"targets_{it}_{k}": v for k, v in scores.items()}
        dims = {"raw": c.features} | {k: h.dim for k in features if k != "raw"}
        k_pool = jax.random.fold_in(k_ctc, 1)
        for pool in h.labelled_batches:
            for name, featurize in features.items():
                stage = _ctc_stage(name, pool)
                batches = functools.partial(_ctc_batch, speech, featurize)
                result, seconds = _train_task(
                    run,
                    stage,
                    c,
                    key=k_ctc,  # the same data and initial draws for every feature set
                    model_fn=lambda k, d=dims[name]: CTCTagger(
                        d, num_classes, hidden=c.hidden, rngs=nnx.Rngs(k)
                    ),
                    batch_fn=functools.partial(batches, pool=pool, pool_key=k_pool),
                    eval_fn=lambda k, f=batches: f(k, batch_size=c.eval_size),  # fresh ones
                    loss_fn=ctc_tagger_loss,
                    metrics_fn=ctc_tagger_metrics,
                    progress=config.progress,
                    epoch_offset=offset,
                )
                offset += -(-c.num_steps // c.chunk_steps)
                for m in ("label_error_rate", "loss"):
                    metrics[f"test_{stage}_{m}"] = result.metrics[f"test_{m}"]
                metrics[f"{stage}_seconds"] = seconds
        if run.path("hubert.md") is not None:
            text = report(metrics, consistency, features, h.labelled_batches, c.batch_size)
            run.path("hubert.md").write_text(text)
        return run.finish(metrics)


def _ctc_stage(features: str, pool: int) -> str:
    """The CTC stage's name (and metric prefix): ``ctc_raw``, ``ctc_iter1_pool4``, ..."""
    return f"ctc_{features}" + (f"_pool{pool}" if pool else "")


def _ctc_batch(
    speech: Callable[..., Any], featurize: Featurize, key: jax.Array, *, batch_size: int,
    pool: int = 0, pool_key: jax.Array | None = None,
) -> Any:  # fmt: skip
    """A CTC batch of featurised utterances; with ``pool`` one of ``pool`` fixed batches
    (from ``pool_key``), so the tagger only ever sees ``pool * batch_size`` labelled
    utterances: the low-resource setting where pretrained features should pay."""
    if pool:
        key = jax.random.fold_in(pool_key, jax.random.randint(key, (), 0, pool))
    b = speech(key, batch_size=batch_size)
    return b._replace(frames=featurize(b.frames, b.frame_lengths))


def report(
    metrics: dict[str, float], consistency: dict[str, dict[str, float]],
    features: dict[str, Any], pools: tuple[int, ...], batch_size: int,
) -> str:  # fmt: skip
    """The two markdown tables of hubert.md: targets' consistency, CTC error rates."""
    lines = [
        "| targets | clustered features | purity | NMI with digits | NMI across k-means seeds "
        "| masked-frame accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for it, s in consistency.items():
        i = int(it.removeprefix("iter"))
        source = "raw frames" if i == 1 else f"iteration {i - 1} encoder"
        acc = metrics.get(f"test_hubert{i}_masked_accuracy")
        shown = "not trained" if acc is None else f"{acc:.3f}"
        lines.append(f"| iteration {i} | {source} | {s['purity']:.3f} | {s['nmi']:.3f} "
                     f"| {s['seed_nmi']:.3f} | {shown} |")  # fmt: skip
    heads = [f"{p * batch_size} labelled utterances" if p else "fresh utterances every step"
             for p in pools]  # fmt: skip
    lines += ["", "| CTC input (test label error rate) | " + " | ".join(heads) + " |",
              "|---" * (len(pools) + 1) + "|"]  # fmt: skip
    for name in features:
        label = "raw frames" if name == "raw" else f"iteration {name[4:]} encoder (frozen)"
        cells = [f"{metrics[f'test_{_ctc_stage(name, p)}_label_error_rate']:.4f}" for p in pools]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
