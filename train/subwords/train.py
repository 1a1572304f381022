"""fastText-style subword embeddings (seed 003, "SubWords"): skip-gram whose centre vector
is the mean of the word's and its character n-grams' vectors, so unseen words get one.

The whole training is one compiled call (:func:`jaxdl.text.train_skipgram`), so there is
no engine loop and no checkpoint here: the :class:`~jaxdl.training.Run` owns the
workdir, ``metrics.jsonl`` gets the loss of each epoch, and the run writes
``neighbours.txt`` (nearest neighbours of seen and unseen words, analogies),
``embedding.png`` (a 2-D projection) and ``summary.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxdl.text import (
    EOS,
    SkipGram,
    analogy,
    build_vocab,
    encode_lines,
    load_fortunes,
    nearest,
    train_skipgram,
)

from .._common import check_scale_support, open_run

SKIPGRAM_FIELDS = ("dim", "epoch", "lr", "ws", "neg", "t", "batch_size")
#: The scaling fields this recipe cannot honour: the run is one program on one device.
UNSUPPORTED = {
    "mesh": "the skip-gram run is one compiled program on one device",
    "precision": "the sparse SGD updates are made in float32",
    "remat": "there are no activations to recompute",
    "accum_steps": "the updates are plain SGD over batch_size centre words",
    "processes": "the corpus and the matrices live on one host",
}


def similarity_check(vectors: np.ndarray, words: list[str], *, seed: int) -> dict[str, float]:
    """Mean cosine of each word ``w`` with ``w + "s"`` when both are in the vocabulary,
    and of as many random pairs: subwords should put the first far above the second."""
    index = {w: i for i, w in enumerate(words)}
    pairs = [(index[w], index[w + "s"]) for w in words if len(w) > 2 and w + "s" in index]
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    a, b = np.asarray(pairs).T if pairs else (np.zeros(0, int), np.zeros(0, int))
    r = np.random.default_rng(seed).integers(0, len(words), (2, max(len(pairs), 1)))
    return {
        "plural_pairs": len(pairs),
        "plural_cosine": float((unit[a] * unit[b]).sum(1).mean()) if pairs else float("nan"),
        "random_pair_cosine": float((unit[r[0]] * unit[r[1]]).sum(1).mean()),
    }


def report(config, vocab, vectors: np.ndarray, words: list[str], w_in) -> tuple[list[str], dict]:
    """The lines of neighbours.txt and the neighbour lists, for seen and unseen words.

    An "unseen" word of the config that is in the vocabulary is named and left out, so
    that every vector under that heading comes from n-grams alone."""
    seen = [w for w in config.query_words if w in vocab.index]
    unseen = [w for w in config.unseen_words if w not in vocab.index]
    lines, found = [], {}
    for title, group, qv in (
        ("seen words", seen, vectors[[words.index(w) for w in seen]] if seen else None),
        ("unseen words (vectors from their n-grams only)", unseen, None),
    ):
        if not group:
            continue
        qv = np.asarray(vocab.vectors(group, w_in)) if qv is None else qv
        lines.append(f"# {title}")
        near = nearest(qv, vectors, words, k=config.neighbours, exclude=[[w] for w in group])
        for w, ns in zip(group, near, strict=True):
            lines.append(f"{w}: " + ", ".join(f"{n} {s:.2f}" for n, s in ns))
            found[w] = ns
    skipped = [w for w in config.unseen_words if w in vocab.index]
    if skipped:
        lines.append(f"# in the vocabulary, so not shown as unseen: {', '.join(skipped)}")
    lines.append("# analogies a : b :: c : ?")
    for a, b, c in config.analogies:
        if all(x in vocab.index for x in (a, b, c)):
            best = analogy(a, b, c, vectors, words, k=3)
            lines.append(f"{a} : {b} :: {c} : " + ", ".join(f"{n} {s:.2f}" for n, s in best))
    return lines, found


def plot(path, vectors: np.ndarray, words: list[str], found: dict, config_seen) -> None:
    """Three seen and three unseen query words (stars), each with its 4 nearest words
    (dots), by PCA; ``words`` and ``vectors`` hold the unseen query words too."""
    from jaxdl.viz._figure import figure, save_figure
    from jaxdl.viz.points import pca_2d

    index = {w: i for i, w in enumerate(words)}
    seen = [q for q in found if q in config_seen]
    chosen = seen[:3] + [q for q in found if q not in config_seen][:3]  # a readable few
    points = [
        (g, w, i == 0)
        for g, q in enumerate(chosen)
        for i, w in enumerate([q] + [n for n, _ in found[q][:4]])
    ]
    xy = pca_2d(vectors[[index[w] for _, w, _ in points]])
    fig, ax = figure(figsize=(7, 6))
    for (g, w, head), (x, y) in zip(points, xy, strict=True):
        ax.scatter(x, y, c=f"C{g % 10}", marker="*" if head else "o", s=120 if head else 25)
        ax.annotate(w, (x, y), fontsize=9 if head else 7, xytext=(3, 3), textcoords="offset points")
    ax.set_title("subword vectors (PCA): 3 seen and 3 unseen words (stars), 4 neighbours each")
    save_figure(fig, path, dpi=80)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    check_scale_support(config, UNSUPPORTED)
    lines = load_fortunes(config.corpus or None)
    if config.max_lines:
        lines = lines[: config.max_lines]
    vocab = build_vocab(
        lines, min_count=config.min_count, minn=config.minn, maxn=config.maxn, bucket=config.bucket
    )
    tokens, line_ids = encode_lines(lines, vocab)
    skipgram = SkipGram(**{f: config[f] for f in SKIPGRAM_FIELDS})
    with open_run(
        config, workdir, "subwords", tensorboard=False, curves=False, checkpoints=False
    ) as run:
        t0 = time.perf_counter()
        w_in, _, loss = train_skipgram(
            vocab, tokens, line_ids, config=skipgram, key=jax.random.key(config.seed)
        )
        loss = np.asarray(loss)  # waits for the run
        train_s = time.perf_counter() - t0
        for e, value in enumerate(loss):
            run.log({"epoch": e + 1, "loss": float(value)}, step=e + 1)

        words = [w for w in vocab.words if w != EOS]
        vectors = np.asarray(vocab.vectors(words, w_in))
        text, found = report(config, vocab, vectors, words, w_in)
        unseen = [w for w in config.unseen_words if w not in vocab.index]
        print("\n".join(text))
        if (path := run.path("neighbours.txt")) is not None:
            path.write_text("\n".join(text) + "\n")
        if (path := run.path("embedding.png")) is not None:
            both = np.concatenate([vectors, np.asarray(vocab.vectors(unseen, w_in))])
            plot(path, both, words + unseen, found, set(config.query_words))
        metrics = {
            "loss_first_epoch": float(loss[0]),
            "loss_last_epoch": float(loss[-1]),
            **similarity_check(vectors, words, seed=config.seed),
            "nwords": vocab.nwords,
            "tokens": int(tokens.size),
            # Compilation included: the run is one call (benchmarks/subwords.py excludes it).
            "words_per_s": float(tokens.size * skipgram.epoch / train_s),
            "train_s": train_s,
        }
        return run.finish(metrics, neighbours=text)
