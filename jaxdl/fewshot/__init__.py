"""Few-shot learning: a siamese embedding trained with a triplet loss, N-way K-shot episodes."""

from jaxdl.fewshot.episodes import class_table, few_shot_accuracy
from jaxdl.fewshot.siamese import SiameseResult, embed, train_siamese

__all__ = ["SiameseResult", "class_table", "embed", "few_shot_accuracy", "train_siamese"]
