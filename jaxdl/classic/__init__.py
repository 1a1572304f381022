"""Classic machine learning in JAX: kNN, k-means, Gaussian-mixture EM, kernel SVM, trees,
Bayesian linear regression. Every fit is one jitted program; restarts and sweeps are vmaps.
"""

from __future__ import annotations

from jaxdl.classic.bayes_linear import Posterior, map_weights, mle_weights, posterior, predictive
from jaxdl.classic.gmm import (
    GaussianMixture,
    GMMResult,
    component_log_pdf,
    em_history,
    em_step,
    fit_gmm,
    init_from_kmeans,
    mean_log_likelihood,
)
from jaxdl.classic.kmeans import KMeansResult, assign, kmeans, kmeans_plus_plus, lloyd
from jaxdl.classic.knn import (
    default_k,
    knn_predict,
    knn_sweep_accuracy,
    nearest_neighbours,
    squared_distances,
    vote,
)
from jaxdl.classic.svm import SVC, decision_function, fit_svc, kernel_matrix, solve_dual
from jaxdl.classic.tree import (
    Split,
    Tree,
    best_split,
    entropy,
    fit_tree,
    gini,
    information_gain,
    predict_tree,
)

__all__ = [
    "SVC",
    "GMMResult",
    "GaussianMixture",
    "KMeansResult",
    "Posterior",
    "Split",
    "Tree",
    "assign",
    "best_split",
    "component_log_pdf",
    "decision_function",
    "default_k",
    "em_history",
    "em_step",
    "entropy",
    "fit_gmm",
    "fit_svc",
    "fit_tree",
    "gini",
    "information_gain",
    "init_from_kmeans",
    "kernel_matrix",
    "kmeans",
    "kmeans_plus_plus",
    "knn_predict",
    "knn_sweep_accuracy",
    "lloyd",
    "map_weights",
    "mean_log_likelihood",
    "mle_weights",
    "nearest_neighbours",
    "posterior",
    "predict_tree",
    "predictive",
    "solve_dual",
    "squared_distances",
    "vote",
]
