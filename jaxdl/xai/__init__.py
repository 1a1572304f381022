"""Explanations: gradient x input and detachment LRP for transformers, their evaluation by
input perturbation, and token heatmaps."""

from jaxdl.xai.relevance import (
    METHODS,
    Explanation,
    attention_relevance,
    explain_logit,
    explain_similarity,
    gradient_x_input,
    resolve_detach,
)

__all__ = [
    "METHODS",
    "Explanation",
    "attention_relevance",
    "explain_logit",
    "explain_similarity",
    "gradient_x_input",
    "resolve_detach",
]
