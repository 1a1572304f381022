"""Skip-gram with negative sampling over words and their character n-grams (fastText's
``-skipgram`` model), the whole run compiled as one program.

For a centre word ``w`` with subwords ``S(w)`` (:class:`~jaxdl.text.SubwordVocab`), the
hidden vector is the mean ``h = mean_{s in S(w)} W_in[s]``; each context word ``c``
within a window of ``b ~ U{1..ws}`` words (in the same line) is a positive, and ``neg``
words drawn from the unigram distribution raised to ``neg_power`` are negatives:

.. math::  \\ell(w, c) = -\\log\\sigma(h^\\top W_{out}[c])
           - \\sum_{n=1}^{neg} \\log\\sigma(-h^\\top W_{out}[n_k])

What matches fastText (``fasttext skipgram``): ``W_in ~ U(-1/dim, 1/dim)``,
``W_out = 0``; plain SGD whose step decays linearly from ``lr`` to 0 over the run; the
hidden gradient ``sum_t alpha_t W_out[t]`` (``alpha = lr (label - sigma)``) added whole to
every subword row (fastText divides it by ``|S(w)|`` only for supervised models);
negatives from counts^0.5 (fastText's ``initTableNegatives`` uses 0.5, not word2vec's
0.75), a negative equal to its positive skipped; frequent words discarded each epoch
with probability ``1 - (sqrt(t/f) + t/f)``, ``f`` the word's share of all tokens read
(``Dictionary::initTableDiscard``), before
the windows are taken; windows do not cross lines.
What differs: ``batch_size`` centre words update at once from the same parameters
(fastText updates after every pair, Hogwild over threads), so the rows shared by a
batch get the sum of their updates; and the step size decays by the kept words of the
epoch rather than by all tokens read.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from jaxdl.text.subwords import EOS, SubwordVocab, word_vectors

__all__ = ["SkipGram", "encode_lines", "keep_probs", "negative_cdf", "train_skipgram"]


@dataclasses.dataclass(frozen=True)
class SkipGram:
    """The hyperparameters of a run, named as fastText's command line names them.

    Attributes:
      dim: size of the vectors.
      epoch: passes over the corpus.
      lr: initial step size (fastText's skip-gram default 0.05).
      ws: largest window radius; each centre word draws its radius from ``1..ws``.
      neg: negatives per positive.
      t: subsampling threshold.
      batch_size: centre words updated together.
      neg_power: exponent of the counts in the negative distribution.
    """

    dim: int = 100
    epoch: int = 5
    lr: float = 0.05
    ws: int = 5
    neg: int = 5
    t: float = 1e-4
    batch_size: int = 256
    neg_power: float = 0.5

    def __post_init__(self) -> None:
        for name in ("dim", "epoch", "ws", "neg", "batch_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an integer >= 1; got {getattr(self, name)!r}.")


def encode_lines(
    lines: Sequence[str], vocab: SubwordVocab
) -> tuple[Int[np.ndarray, " n"], Int[np.ndarray, " n"]]:
    """The corpus as word ids and line numbers, ``(tokens, line_ids)``: each line's
    words in the vocabulary, then :data:`EOS` (fastText reads lines the same way; words
    outside the vocabulary are dropped and do not count as tokens)."""
    index, eos = vocab.index, vocab.index.get(EOS, -1)
    tokens, line_ids = [], []
    for n, line in enumerate(lines):
        ids = [index[w] for w in line.split() if w in index]
        if eos >= 0:
            ids.append(eos)
        tokens.extend(ids)
        line_ids.extend([n] * len(ids))
    if not tokens:
        raise ValueError(
            f"lines must hold words of the vocabulary; got {len(lines)} lines with none, "
            "expected at least one."
        )
    return np.asarray(tokens, np.int32), np.asarray(line_ids, np.int32)


def keep_probs(
    counts: Sequence[int], *, t: float, ntokens: int = 0
) -> Float[np.ndarray, " nwords"]:
    """fastText's ``pdiscard``: a word of frequency ``f = count / ntokens`` is kept with
    probability ``sqrt(t / f) + t / f`` (above 1: always); ``ntokens`` 0: ``sum(counts)``."""
    f = np.asarray(counts, np.float64) / (ntokens or np.sum(counts))
    return (np.sqrt(t / f) + t / f).astype(np.float32)


def negative_cdf(counts: Sequence[int], *, power: float = 0.5) -> Float[np.ndarray, " nwords"]:
    """Cumulative distribution of negatives, ``counts**power`` normalised; a uniform draw
    ``u`` picks ``searchsorted(cdf, u, side="right")``."""
    p = np.asarray(counts, np.float64) ** power
    return (np.cumsum(p) / p.sum()).astype(np.float32)


def train_skipgram(
    vocab: SubwordVocab,
    tokens: Int[np.ndarray, " n"],
    line_ids: Int[np.ndarray, " n"],
    *,
    config: SkipGram,
    key: jax.Array,
) -> tuple[Float[Array, "rows dim"], Float[Array, "nwords dim"], Float[Array, " epoch"]]:
    """Trains the input (words and n-gram buckets) and output matrices; returns
    ``(input_matrix, output_matrix, loss)`` with the mean loss per (centre, context) pair
    of each epoch. One compiled call: a scan over epochs, each a loop over batches.

    Example:
      >>> from jaxdl.text import build_vocab
      >>> lines = ["the cat sat", "the dog sat"] * 20
      >>> vocab = build_vocab(lines, min_count=1, bucket=100)
      >>> tokens, line_ids = encode_lines(lines, vocab)
      >>> w_in, w_out, loss = train_skipgram(vocab, tokens, line_ids,
      ...     config=SkipGram(dim=8, epoch=2, t=1.0), key=jax.random.key(0))
      >>> w_in.shape, w_out.shape, loss.shape
      ((105, 8), (5, 8), (2,))
    """
    if tokens.shape != line_ids.shape or tokens.ndim != 1 or tokens.size == 0:
        raise ValueError(
            f"tokens and line_ids must be 1-D of one non-zero length; got shapes "
            f"{tokens.shape} and {line_ids.shape}."
        )
    k_init, k_train = jax.random.split(key)
    bound = 1.0 / config.dim
    w_in = jax.random.uniform(k_init, (vocab.num_rows, config.dim), jnp.float32, -bound, bound)
    w_out = jnp.zeros((vocab.nwords, config.dim), jnp.float32)
    return _train(
        w_in,
        w_out,
        jnp.asarray(tokens),
        jnp.asarray(line_ids),
        jnp.asarray(vocab.table()),
        jnp.asarray(keep_probs(vocab.counts, t=config.t, ntokens=vocab.ntokens)),
        jnp.asarray(negative_cdf(vocab.counts, power=config.neg_power)),
        k_train,
        config=config,
    )


@functools.partial(jax.jit, static_argnames="config", donate_argnums=(0, 1))
def _train(w_in, w_out, tokens, line_ids, table, keep_p, cdf, key, *, config: SkipGram):
    n, batch, ws = tokens.shape[0], config.batch_size, config.ws
    offsets = jnp.concatenate([jnp.arange(-ws, 0), jnp.arange(1, ws + 1)])  # (C,)
    labels = jnp.zeros(1 + config.neg).at[0].set(1.0)  # the positive first

    def epoch(carry, e):
        w_in, w_out = carry
        k_keep, k_steps = jax.random.split(jax.random.fold_in(key, e))
        keep = jax.random.uniform(k_keep, (n,)) <= keep_p[tokens]
        kept = keep.sum()
        order = jnp.argsort(~keep, stable=True)  # kept words first, in corpus order
        ktok = tokens[order]
        kline = jnp.where(jnp.arange(n) < kept, line_ids[order], -1)

        def step(i, carry):
            w_in, w_out, loss, pairs = carry
            k_win, k_neg = jax.random.split(jax.random.fold_in(k_steps, i))
            pos = i * batch + jnp.arange(batch)  # (B,)
            centre = ktok.at[pos].get(mode="fill", fill_value=0)
            cline = kline.at[pos].get(mode="fill", fill_value=-1)
            radius = jax.random.randint(k_win, (batch,), 1, ws + 1)
            cpos = pos[:, None] + offsets  # (B, C)
            ctx = ktok.at[cpos].get(mode="fill", fill_value=0)
            ok = (
                (cline[:, None] >= 0)
                & (jnp.abs(offsets) <= radius[:, None])
                & (kline.at[cpos].get(mode="fill", fill_value=-2) == cline[:, None])
            )
            u = jax.random.uniform(k_neg, (*ctx.shape, config.neg))
            negs = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1)
            targets = jnp.concatenate([ctx[..., None], negs], -1)  # (B, C, 1 + neg)
            live = ok[..., None] & jnp.concatenate([ok[..., None], negs != ctx[..., None]], -1)

            sub = table[centre]  # (B, S)
            h = word_vectors(w_in, sub)  # (B, D)
            wo = w_out[targets]  # (B, C, 1 + neg, D)
            score = jnp.einsum("bd,bctd->bct", h, wo)
            progress = (e + jnp.minimum(i * batch, kept) / kept) / config.epoch
            alpha = jnp.where(
                live, config.lr * (1.0 - progress) * (labels - jax.nn.sigmoid(score)), 0
            )
            grad_h = jnp.einsum("bct,bctd->bd", alpha, wo)
            w_out = w_out.at[targets].add(alpha[..., None] * h[:, None, None, :])
            w_in = w_in.at[sub].add(
                jnp.broadcast_to(grad_h[:, None], (*sub.shape, h.shape[-1])), mode="drop"
            )
            nll = -jnp.where(labels > 0, jax.nn.log_sigmoid(score), jax.nn.log_sigmoid(-score))
            return w_in, w_out, loss + jnp.where(live, nll, 0).sum(), pairs + ok.sum()

        steps = (kept + batch - 1) // batch
        w_in, w_out, loss, pairs = jax.lax.fori_loop(
            0, steps, step, (w_in, w_out, jnp.float32(0), jnp.int32(0))
        )
        return (w_in, w_out), loss / jnp.maximum(pairs, 1)

    (w_in, w_out), losses = jax.lax.scan(epoch, (w_in, w_out), jnp.arange(config.epoch))
    return w_in, w_out, losses
