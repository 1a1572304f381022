"""Few-shot learning: a CNN embedding trained on some classes (cross-entropy with rotation
labels, prototypical, contrastive or triplet losses) on class-balanced batches drawn on the
device, and N-way K-shot episodes in one vmap. ``train/fewshot`` trains it with the engine."""

from jaxdl.fewshot.episodes import (
    center_and_normalise,
    class_table,
    few_shot_accuracy,
    shifted_images,
)
from jaxdl.fewshot.siamese import (
    LAYERS,
    LOSSES,
    augment_image,
    class_batch,
    embed,
    metric_loss_fn,
    rotate,
)

__all__ = [
    "LAYERS",
    "LOSSES",
    "augment_image",
    "center_and_normalise",
    "class_batch",
    "class_table",
    "embed",
    "few_shot_accuracy",
    "metric_loss_fn",
    "rotate",
    "shifted_images",
]
