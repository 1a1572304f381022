"""Input-perturbation evaluation of token relevances (most relevant first).

A good explanation names the tokens the model relies on, so replacing those first (with
``[UNK]`` or ``[MASK]``) should make the explained output fall fastest. The curve is the
explained output after replacing the top ``round(f * n)`` of each example's ``n`` candidate
tokens, for fractions ``f = 0, 1/S, ..., 1``; its summary is the area over the curve
(AOPC, Samek et al. 2017): the mean drop ``value(0) - value(f)`` over the steps ``f > 0``.
Higher is better; random relevances give the baseline to beat.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

ScoreFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


class PerturbationCurve(NamedTuple):
    """``fractions (S+1,)``, ``values (B, S+1)`` per example, and their ``aopc`` (scalar)."""

    fractions: jax.Array
    values: jax.Array
    aopc: jax.Array


def candidate_mask(
    input_ids: Int[Array, " batch seq"],
    attention_mask: Int[Array, " batch seq"],
    special_ids: Sequence[int],
) -> Bool[Array, "batch seq"]:
    """Real tokens that may be perturbed: not padding and not special ([CLS], [SEP] ...)."""
    special = jnp.isin(input_ids, jnp.asarray(list(special_ids), input_ids.dtype))
    return (attention_mask > 0) & ~special


def perturbed_inputs(
    input_ids: Int[Array, " batch seq"],
    relevance: Float[Array, "batch seq"],
    candidates: Bool[Array, "batch seq"],
    *,
    replacement_id: int,
    num_steps: int,
) -> tuple[jax.Array, jax.Array]:
    """``(fractions (S+1,), ids (B, S+1, T))``: step ``s`` replaces each example's top
    ``round(s / S * n)`` candidates by relevance with ``replacement_id``.

    Example:
      >>> import jax.numpy as jnp
      >>> ids = jnp.array([[101, 7, 8, 9, 102]])
      >>> rel = jnp.array([[5.0, 0.1, 3.0, 2.0, 9.0]])
      >>> cand = jnp.array([[False, True, True, True, False]])
      >>> _, out = perturbed_inputs(ids, rel, cand, replacement_id=100, num_steps=3)
      >>> for row in out[0].tolist():
      ...     print(row)
      [101, 7, 8, 9, 102]
      [101, 7, 100, 9, 102]
      [101, 7, 100, 100, 102]
      [101, 100, 100, 100, 102]
    """
    if input_ids.shape != relevance.shape or candidates.shape != input_ids.shape:
        raise ValueError(
            f"input_ids {input_ids.shape}, relevance {relevance.shape} and candidates "
            f"{candidates.shape} must have the same (batch, seq) shape."
        )
    if num_steps < 1:
        raise ValueError(f"num_steps is {num_steps}, expected at least 1.")
    score = jnp.where(candidates, relevance, -jnp.inf)
    # rank 0 = most relevant; stable sort keeps ties in token order.
    rank = jnp.argsort(jnp.argsort(-score, axis=-1, stable=True), axis=-1)  # (B, T)
    n = candidates.sum(-1)  # (B,)
    fractions = jnp.arange(num_steps + 1) / num_steps
    k = jnp.round(fractions[None, :] * n[:, None]).astype(rank.dtype)  # (B, S+1)
    replace = (rank[:, None, :] < k[..., None]) & candidates[:, None, :]  # (B, S+1, T)
    ids = jnp.where(replace, replacement_id, input_ids[:, None, :])
    return fractions, ids


def perturbation_curve(
    score_fn: ScoreFn,
    input_ids: Int[Array, " batch seq"],
    attention_mask: Int[Array, " batch seq"],
    relevance: Float[Array, "batch seq"],
    candidates: Bool[Array, "batch seq"],
    *,
    replacement_id: int,
    num_steps: int = 10,
) -> PerturbationCurve:
    """Explained values as the most relevant tokens are replaced, and the AOPC.

    Args:
      score_fn: ``(ids (N, T), mask (N, T), example (N,)) -> values (N,)``: the explained
        quantity (a logit, a cosine similarity) of perturbed copies of example ``example``.
        All ``B * (S+1)`` copies go through it in one call.
      input_ids, attention_mask, relevance, candidates: ``(B, T)``.
      replacement_id: e.g. the tokenizer's ``unk_token_id`` or ``mask_token_id``.
      num_steps: ``S``, the number of perturbation fractions after 0.
    """
    fractions, ids = perturbed_inputs(
        input_ids, relevance, candidates, replacement_id=replacement_id, num_steps=num_steps
    )
    b, s, t = ids.shape
    mask = jnp.broadcast_to(attention_mask[:, None, :], (b, s, t))
    example = jnp.broadcast_to(jnp.arange(b)[:, None], (b, s))
    values = score_fn(ids.reshape(b * s, t), mask.reshape(b * s, t), example.reshape(-1))
    values = jnp.asarray(values).reshape(b, s)
    return PerturbationCurve(fractions, values, area_over_curve(values))


def area_over_curve(values: Float[Array, "batch steps"]) -> jax.Array:
    """Mean over examples and steps ``s >= 1`` of ``values[:, 0] - values[:, s]``."""
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"values has shape {values.shape}, expected (batch, steps >= 2).")
    return jnp.mean(values[:, :1] - values[:, 1:])
