"""Few-shot learning: a CNN embedding trained on some classes (cross-entropy with rotation
labels, prototypical, contrastive or triplet losses) and N-way K-shot episodes in one vmap."""

from jaxdl.fewshot.episodes import (
    center_and_normalise,
    class_table,
    few_shot_accuracy,
    shifted_images,
)
from jaxdl.fewshot.siamese import SiameseResult, embed, train_siamese

__all__ = [
    "SiameseResult",
    "center_and_normalise",
    "class_table",
    "embed",
    "few_shot_accuracy",
    "shifted_images",
    "train_siamese",
]
