"""Subword skip-gram training: jaxdl vs the fastText binary, words per second.

Data: the Debian package ``fortunes`` (``apt-get install fortunes``), normalized as the
``subwords`` recipe reads it (:func:`jaxdl.text.load_fortunes`) and written to one text
file that both sides train on. Settings on both sides: skip-gram, dim 100, 1 epoch, lr
0.05, window 5, 5 negatives, n-grams 3..6, 200,000 buckets, min count 5, t = 1e-4.

jaxdl: :func:`jaxdl.text.train_skipgram`, timed after a warm-up call (compilation
excluded), as corpus tokens times epochs over seconds, the count fastText uses (every
token in the vocabulary read, the end-of-line tokens included, before subsampling).
fastText: ``fasttext skipgram ... -thread N`` (Debian package ``fasttext``) for N = 1
and 2; its rate is the last ``words/sec/thread`` it prints times N (its training loop,
without reading the corpus or saving the model, like jaxdl's). The ratio is against
fastText with 2 threads (XLA uses both cores); the 1-thread rate is in the record.
Without the binary, the ``fasttext`` Python package's ``train_unsupervised`` is timed
whole (vocabulary building included, so it undercounts fastText's speed).

Run: ``python -m benchmarks.run subwords``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from benchmarks import _flops, _harness
from jaxdl.text import (
    SkipGram,
    build_vocab,
    encode_lines,
    keep_probs,
    load_fortunes,
    train_skipgram,
)

NAME = "subwords"
SETTINGS = dict(dim=100, epoch=1, lr=0.05, ws=5, neg=5, t=1e-4)
NGRAMS = dict(minn=3, maxn=6, bucket=200_000)
MIN_COUNT = 5
_RATE = re.compile(r"words/sec/thread:\s*(\d+)")


def fasttext_rate(corpus: Path, out: Path, threads: int, ntokens: int) -> float:
    """Words/s of one fastText training run with ``threads`` threads (``ntokens``: the
    corpus's tokens, for the Python package's whole-call timing)."""
    args = dict(SETTINGS, **NGRAMS, minCount=MIN_COUNT, thread=threads)
    binary = shutil.which("fasttext")
    if binary is None:
        import fasttext

        tic = time.perf_counter()
        fasttext.train_unsupervised(str(corpus), model="skipgram", verbose=0, **args)
        return ntokens * SETTINGS["epoch"] / (time.perf_counter() - tic)
    cmd = [binary, "skipgram", "-input", str(corpus), "-output", str(out), "-verbose", "2"]
    for flag, value in args.items():
        cmd += [f"-{flag}", str(value)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=3600)
    rates = _RATE.findall(done.stdout + done.stderr)
    if not rates:
        raise RuntimeError(f"fastText printed no words/sec/thread: {done.stderr[-300:]}")
    return float(rates[-1]) * threads


def skipgram_cost(vocab: Any, tokens: Any, line_ids: Any, config: SkipGram) -> dict[str, Any]:
    """FLOPs of one ``train_skipgram`` call. Each epoch's loop over batches runs
    ``ceil(kept / batch_size)`` times, ``kept`` being the tokens that survive the random
    subsampling: not reported, so its expectation, the sum of the tokens' keep
    probabilities, stands in for it (its relative spread is about ``1 / sqrt(tokens)``)."""
    kept = float(np.sum(keep_probs(vocab.counts, t=config.t, ntokens=vocab.ntokens)[tokens]))
    trips = math.ceil(kept / config.batch_size)
    fit = lambda k: train_skipgram(vocab, tokens, line_ids, config=config, key=k)[2]  # noqa: E731
    return _flops.program_cost(fit, jax.random.key(0), while_trips=[trips])


def run(*, repeats: int | None = None, quick: bool = False, **_: Any) -> dict[str, Any]:
    threads = _harness.set_threads()
    repeats = repeats or (1 if quick else 3)
    lines = load_fortunes()[: 2000 if quick else None]
    vocab = build_vocab(lines, min_count=MIN_COUNT, **NGRAMS)
    tokens, line_ids = encode_lines(lines, vocab)
    config = SkipGram(**SETTINGS)
    keys = iter(jax.random.split(jax.random.key(0), 1 + repeats))
    rates: dict[str, list[float]] = {"jaxdl": [], "fasttext_1": [], "fasttext_2": []}

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "fortunes.txt"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")

        def ours():
            tic = time.perf_counter()
            loss = train_skipgram(vocab, tokens, line_ids, config=config, key=next(keys))[2]
            jax.block_until_ready(loss)
            rates["jaxdl"].append(tokens.size * config.epoch / (time.perf_counter() - tic))

        def theirs(n):
            return lambda: rates[f"fasttext_{n}"].append(
                fasttext_rate(corpus, Path(tmp) / "m", n, tokens.size)
            )

        ours()  # compiles
        rates["jaxdl"].clear()
        load_before = list(os.getloadavg())
        with _harness.OtherLoad() as other:
            seconds = _harness.time_interleaved(
                {"jaxdl": ours, "fasttext_1": theirs(1), "fasttext_2": theirs(2)},
                warmup=0,
                repeats=repeats,
                sync=lambda _: None,
            )
    med = {k: _harness.median(v) for k, v in rates.items()}
    extra = {
        "quick": quick,
        "tokens": int(tokens.size),
        "nwords": vocab.nwords,
        "settings": dict(SETTINGS, **NGRAMS, min_count=MIN_COUNT, batch_size=config.batch_size),
        "words_per_s": rates,
        "fasttext_1_thread": {"value": med["fasttext_1"], "unit": "words/s"},
        "ratio_vs_1_thread": med["jaxdl"] / med["fasttext_1"],
        "fasttext_binary": shutil.which("fasttext"),
        "seconds": seconds,
        "set_threads": threads,
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # Words/s is tokens over seconds: seconds per call are tokens over the median rate.
        "flops": _flops.program_record(
            skipgram_cost(vocab, tokens, line_ids, config),
            tokens.size * config.epoch / med["jaxdl"],
        ),
    }
    return _harness.result_record(
        NAME,
        "skip-gram training words/s (fortunes, dim 100, n-grams 3-6), vs fastText -thread 2",
        med["jaxdl"],
        med["fasttext_2"],
        "words/s",
        extra,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
