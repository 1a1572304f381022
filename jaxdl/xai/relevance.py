"""Token relevances for transformer predictions: gradient x input and detachment LRP.

Both are ``embeddings * d f / d embeddings`` summed over the hidden axis, where
``embeddings`` is the output of the model's embedding layer (the hidden states entering
the first block, as in the seed, which swapped the embedding module for an identity).
LRP (Ali et al. 2022) is the same product taken through the detached forward
(:data:`~jaxdl.nn.transformer.LRP`): with zero biases the relevances then sum to the
explained output ("conservation"), because every detached block is linear in its input
for the gradient and ReLU is positively homogeneous.

Explanations are per example (``jax.vmap``), jit-compiled once per model structure and
method, and padded positions get zero relevance.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from jaxdl.nn.bert import DistilBertClassifier, SentenceEncoder, mean_pool
from jaxdl.nn.detach import LRP, NO_DETACH, Detach

METHODS = {"gradient_x_input": NO_DETACH, "lrp": LRP}


class Explanation(NamedTuple):
    """``relevance (B, T)`` per token and the explained ``value (B,)`` (a logit or a cosine)."""

    relevance: jax.Array
    value: jax.Array


class LogitGradient(NamedTuple):
    """What :func:`explain_logit` multiplies: the embedding layer's output
    ``embeddings (B, T, D)``, the gradient of the explained logit with respect to it
    ``gradient (B, T, D)`` (through the detached forward the method chooses), and the
    logit ``value (B,)``. ``(embeddings * gradient).sum(-1) * mask`` is the relevance."""

    embeddings: jax.Array
    gradient: jax.Array
    value: jax.Array


def gradient_x_input(
    fn: Callable[[jax.Array], jax.Array], x: Float[Array, "..."]
) -> tuple[jax.Array, jax.Array]:
    """``(x * grad fn(x), fn(x))`` for a scalar function ``fn``.

    Example:
      >>> import jax.numpy as jnp
      >>> r, v = gradient_x_input(lambda x: jnp.sum(2.0 * x), jnp.array([1.0, -3.0]))
      >>> r.tolist(), float(v)
      ([2.0, -6.0], -4.0)
    """
    value, grad = jax.value_and_grad(fn)(x)
    return x * grad, value


def resolve_detach(method: str | Detach) -> Detach:
    """``"gradient_x_input"``, ``"lrp"`` or an explicit :class:`Detach` to a :class:`Detach`."""
    if isinstance(method, Detach):
        return method
    if method not in METHODS:
        raise ValueError(f"method is {method!r}, expected one of {', '.join(METHODS)}.")
    return METHODS[method]


def _check_batch(input_ids, attention_mask):
    input_ids, attention_mask = jnp.asarray(input_ids), jnp.asarray(attention_mask)
    if input_ids.ndim != 2 or attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"input_ids has shape {input_ids.shape} and attention_mask {attention_mask.shape}, "
            "expected the same (batch, seq) shape."
        )
    return input_ids, attention_mask


@functools.partial(jax.jit, static_argnames=("graphdef", "detach"))
def _explain_logit(graphdef, state, input_ids, attention_mask, target, *, detach):
    model = nnx.merge(graphdef, state)
    embeddings = model.encoder.embeddings(input_ids)  # (B, T, D)

    def one(emb, mask, cls):  # a single example: (T, D), (T,), ()
        def logit(e):
            return model(embeddings=e[None], attention_mask=mask[None], detach=detach)[0, cls]

        value, grad = jax.value_and_grad(logit)(emb)
        return (emb * grad).sum(-1) * mask, value, grad

    rel, value, grad = jax.vmap(one)(embeddings, attention_mask, target)
    return rel, value, grad, embeddings


def _logit_inputs(model, input_ids, attention_mask, target, method):
    input_ids, attention_mask = _check_batch(input_ids, attention_mask)
    graphdef, state = nnx.split(model)
    if target is None:
        target = jnp.argmax(_forward(graphdef, state, input_ids, attention_mask), axis=-1)
    target = jnp.broadcast_to(jnp.asarray(target, jnp.int32), input_ids.shape[:1])
    return _explain_logit(
        graphdef, state, input_ids, attention_mask, target, detach=resolve_detach(method)
    )


def explain_logit(
    model: DistilBertClassifier,
    input_ids: Int[Array, " batch seq"],
    attention_mask: Int[Array, " batch seq"],
    *,
    target: Int[Array, " batch"] | None = None,
    method: str | Detach = "lrp",
) -> Explanation:
    """Relevance of every token for the ``target`` logit (default: the predicted class).

    Args:
      model: a sequence classifier.
      input_ids, attention_mask: ``(B, T)`` padded batch.
      target: class per example; ``None`` explains each example's argmax.
      method: ``"gradient_x_input"``, ``"lrp"`` (all three detach switches) or a
        :class:`~jaxdl.nn.transformer.Detach` to turn switches on one at a time.

    Returns:
      :class:`Explanation` with ``relevance (B, T)`` (0 on padding) and the logit ``(B,)``.
      :func:`logit_gradient` returns the gradient it is made from.
    """
    rel, value, _, _ = _logit_inputs(model, input_ids, attention_mask, target, method)
    return Explanation(rel, value)


def logit_gradient(
    model: DistilBertClassifier,
    input_ids: Int[Array, " batch seq"],
    attention_mask: Int[Array, " batch seq"],
    *,
    target: Int[Array, " batch"] | None = None,
    method: str | Detach = "lrp",
) -> LogitGradient:
    """The gradient behind :func:`explain_logit` (same arguments, same compiled program):
    d logit / d embeddings ``(B, T, D)``, with the embeddings and the logit.

    With ``method="gradient_x_input"`` it is the plain gradient PyTorch's
    ``inputs_embeds.grad`` gives for the same logit (the seed's recipe).
    """
    _, value, grad, embeddings = _logit_inputs(model, input_ids, attention_mask, target, method)
    return LogitGradient(embeddings, grad, value)


def _sentence(model: SentenceEncoder, mask, detach: Detach, *, ids=None, embeddings=None):
    """Unnormalised mean-pooled embedding and its norm (detached under the LN switch)."""
    h = model.encoder(ids, mask, embeddings=embeddings, detach=detach)
    pooled = mean_pool(h, mask)
    norm = jnp.linalg.norm(pooled, axis=-1, keepdims=True)
    # The L2 normalisation is a LayerNorm without centring: detach it the same way.
    if detach.layer_norm:
        norm = jax.lax.stop_gradient(norm)
    return pooled / jnp.maximum(norm, 1e-12)


@functools.partial(jax.jit, static_argnames=("graphdef", "detach"))
def _explain_similarity(graphdef, state, ids_a, mask_a, ids_b, mask_b, *, detach):
    model = nnx.merge(graphdef, state)
    other = jax.lax.stop_gradient(_sentence(model, mask_b, NO_DETACH, ids=ids_b))  # (B, D)
    embeddings = model.encoder.embeddings(ids_a)

    def one(emb, mask, b):
        def cosine(e):
            return _sentence(model, mask[None], detach, embeddings=e[None])[0] @ b

        rel, value = gradient_x_input(cosine, emb)
        return rel.sum(-1) * mask, value

    return jax.vmap(one)(embeddings, mask_a, other)


def explain_similarity(
    model: SentenceEncoder,
    input_ids: Int[Array, " batch seq"],
    attention_mask: Int[Array, " batch seq"],
    other_ids: Int[Array, " batch seq2"],
    other_mask: Int[Array, " batch seq2"],
    *,
    method: str | Detach = "lrp",
) -> Explanation:
    """Relevance of the tokens of each first sentence for its cosine similarity with the
    second sentence of the pair (held fixed).

    Returns:
      :class:`Explanation` with ``relevance (B, T)`` and the cosine similarities ``(B,)``.
    """
    input_ids, attention_mask = _check_batch(input_ids, attention_mask)
    other_ids, other_mask = _check_batch(other_ids, other_mask)
    if other_ids.shape[0] != input_ids.shape[0]:
        raise ValueError(
            f"other_ids has {other_ids.shape[0]} rows, expected one per sentence "
            f"({input_ids.shape[0]})."
        )
    graphdef, state = nnx.split(model)
    rel, value = _explain_similarity(
        graphdef,
        state,
        input_ids,
        attention_mask,
        other_ids,
        other_mask,
        detach=resolve_detach(method),
    )
    return Explanation(rel, value)


def attention_relevance(
    model: DistilBertClassifier | SentenceEncoder,
    input_ids: Int[Array, " batch seq"],
    attention_mask: Int[Array, " batch seq"],
) -> jax.Array:
    """The attention baseline: last layer's probabilities averaged over heads, read from the
    [CLS] row for a classifier and averaged over the real query tokens for mean pooling."""
    input_ids, attention_mask = _check_batch(input_ids, attention_mask)
    graphdef, state = nnx.split(model)
    return _attention(graphdef, state, input_ids, attention_mask)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _attention(graphdef, state, input_ids, attention_mask):
    model = nnx.merge(graphdef, state)
    _, probs = model(input_ids, attention_mask, return_attention=True)
    last = probs[-1].mean(axis=1)  # (B, T, T)
    if isinstance(model, DistilBertClassifier):
        rel = last[:, 0]
    else:
        m = attention_mask.astype(last.dtype)
        rel = (last * m[..., None]).sum(1) / m.sum(1, keepdims=True)
    return rel * attention_mask


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _forward(graphdef, state, input_ids, attention_mask):
    return nnx.merge(graphdef, state)(input_ids, attention_mask)


def jit_forward(model: nnx.Module) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``(input_ids, attention_mask) -> model output``, compiled once per shape.

    The model is split once, so later changes to ``model`` are not seen.
    """
    graphdef, state = nnx.split(model)

    def forward(input_ids: jax.Array, attention_mask: jax.Array) -> jax.Array:
        return _forward(graphdef, state, input_ids, attention_mask)

    return forward
