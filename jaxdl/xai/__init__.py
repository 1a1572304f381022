"""Explanations: gradient x input and detachment LRP for transformers, their evaluation by
input perturbation, and token heatmaps; GNN-LRP relevant walks for graph networks
(``jaxdl.xai.gnn_lrp``)."""

from jaxdl.xai.heatmap import heatmap_html, save_heatmap_png
from jaxdl.xai.perturbation import (
    PerturbationCurve,
    area_over_curve,
    candidate_mask,
    perturbation_curve,
    perturbed_inputs,
)
from jaxdl.xai.relevance import (
    METHODS,
    Explanation,
    LogitGradient,
    attention_relevance,
    explain_logit,
    explain_similarity,
    gradient_x_input,
    jit_forward,
    logit_gradient,
    resolve_detach,
)

__all__ = [
    "METHODS",
    "Explanation",
    "LogitGradient",
    "PerturbationCurve",
    "area_over_curve",
    "candidate_mask",
    "heatmap_html",
    "jit_forward",
    "perturbation_curve",
    "perturbed_inputs",
    "save_heatmap_png",
    "attention_relevance",
    "explain_logit",
    "explain_similarity",
    "gradient_x_input",
    "logit_gradient",
    "resolve_detach",
]
