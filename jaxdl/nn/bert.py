"""BERT-family task models: a :class:`~jaxdl.nn.transformer.TransformerEncoder` and a head.

- :class:`DistilBertClassifier`: sequence classification from the [CLS] position
  (``DistilBertForSequenceClassification``);
- :class:`SentenceEncoder`: mean pooling and L2 normalisation of the hidden states, the
  sentence-transformers recipe of all-MiniLM-L6-v2.

Both take the encoder's arguments (token ids or embeddings, padding mask, detachment
switches, attention probabilities on request) and load Hugging Face weights through
:func:`jaxdl.pretrained.from_pretrained`.

Example:
  >>> from flax import nnx
  >>> import jax.numpy as jnp
  >>> cfg = TransformerConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32,
  ...                         num_labels=3)
  >>> ids = jnp.ones((2, 5), jnp.int32)
  >>> DistilBertClassifier(cfg, rngs=nnx.Rngs(0))(ids).shape
  (2, 3)
  >>> e = SentenceEncoder(cfg, rngs=nnx.Rngs(0))(ids)
  >>> e.shape, bool(jnp.allclose(jnp.linalg.norm(e, axis=-1), 1.0))
  ((2, 16), True)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from jaxdl._checks import check_rank
from jaxdl.nn._dropout import Dropout, split_key
from jaxdl.nn.transformer import TransformerConfig, TransformerEncoder, linear

__all__ = ["DistilBertClassifier", "SentenceEncoder", "l2_normalize", "mean_pool"]


def mean_pool(
    hidden: Float[Array, "batch seq dim"], attention_mask: Int[Array, " batch seq"]
) -> Float[Array, "batch dim"]:
    """Mean of the hidden states of the real (mask 1) tokens, as sentence-transformers.

    Args:
      hidden: the encoder's hidden states ``(B, T, D)``.
      attention_mask: ``(B, T)``, 1 for real tokens and 0 for padding.

    Returns:
      ``(B, D)``; an all-padding row gives zeros.

    Raises:
      ValueError: ``hidden`` is not rank 3 or the mask's shape is not ``hidden.shape[:2]``.

    Example:
      >>> import jax.numpy as jnp
      >>> h = jnp.arange(12.0).reshape(1, 3, 4)
      >>> mean_pool(h, jnp.array([[1, 1, 0]])).tolist()
      [[2.0, 3.0, 4.0, 5.0]]
    """
    check_rank("hidden", hidden, rank=3)
    if attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"attention_mask has shape {attention_mask.shape}, expected {hidden.shape[:2]}."
        )
    m = attention_mask.astype(hidden.dtype)[..., None]
    # sentence-transformers clamps the token count at 1e-9 so an all-padding row gives 0.
    return (hidden * m).sum(1) / jnp.maximum(m.sum(1), 1e-9)


def l2_normalize(x: Float[Array, "*batch dim"], *, eps: float = 1e-12) -> jax.Array:
    """``x / max(||x||, eps)`` along the last axis (``torch.nn.functional.normalize``)."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)


class _EncoderWithHead(nnx.Module):
    """``self.encoder`` and ``self.head``: the call the task models share.

    Subclasses set ``encoder`` and define ``head(hidden, attention_mask, *, train, key)``.
    """

    encoder: TransformerEncoder

    def head(
        self,
        hidden: Float[Array, "batch seq dim"],
        attention_mask: Int[Array, " batch seq"] | None,
        *,
        train: bool,
        key: jax.Array | None,
    ) -> jax.Array:
        raise NotImplementedError

    def _keys(self, key: jax.Array | None) -> tuple[jax.Array | None, jax.Array | None]:
        """The encoder's key and the head's."""
        k_encoder, k_head = split_key(key, 2)
        return k_encoder, k_head

    def __call__(
        self,
        input_ids: Int[Array, " batch seq"] | None = None,
        attention_mask: Int[Array, " batch seq"] | None = None,
        *,
        return_attention: bool = False,
        output_hidden_states: bool = False,
        train: bool = False,
        key: jax.Array | None = None,
        **encoder_kwargs: Any,
    ):
        """The head's output, plus the ``(B, H, T, T)`` probabilities of every layer.

        Args:
          input_ids, attention_mask, return_attention, output_hidden_states, train, key:
            as :meth:`TransformerEncoder.__call__ <jaxdl.nn.TransformerEncoder.__call__>`.
          **encoder_kwargs: the encoder's other keyword arguments (``token_type_ids``,
            ``embeddings``, ``detach``).

        Returns:
          the head's output, or a tuple of it followed by the probabilities (with
          ``return_attention``) and the encoder's hidden states per layer (with
          ``output_hidden_states``).
        """
        k_encoder, k_head = self._keys(key)
        out = self.encoder(
            input_ids,
            attention_mask,
            return_attention=return_attention,
            output_hidden_states=output_hidden_states,
            train=train,
            key=k_encoder,
            **encoder_kwargs,
        )
        out = out if return_attention or output_hidden_states else (out,)
        y = self.head(out[0], attention_mask, train=train, key=k_head)
        return (y, *out[1:]) if len(out) > 1 else y


class DistilBertClassifier(_EncoderWithHead):
    """DistilBERT sequence classification: encoder, [CLS] -> pre_classifier -> ReLU -> logits.

    Called like the encoder; returns logits ``(B, num_labels)`` (and the attention tuple).
    See the module's example.
    """

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.encoder = TransformerEncoder(config, rngs=rngs)
        self.pre_classifier = linear(config.dim, config.dim, rngs, config.dtype)
        self.classifier = linear(config.dim, config.num_labels, rngs, config.dtype)
        self.dropout = Dropout(config.classifier_dropout)

    def head(self, hidden, attention_mask, *, train, key):
        """Logits ``(B, num_labels)`` from the first ([CLS]) position."""
        pooled = jax.nn.relu(self.pre_classifier(hidden[:, 0]))
        return self.classifier(self.dropout(pooled, train=train, key=key))


class SentenceEncoder(_EncoderWithHead):
    """BERT with mean pooling and L2 normalisation: sentence embeddings (all-MiniLM-L6-v2).

    Called like the encoder; returns embeddings ``(B, D)`` (and the attention tuple).
    See the module's example.
    """

    def __init__(self, config: TransformerConfig, *, normalize: bool = True, rngs: nnx.Rngs):
        self.config = config
        self.normalize = normalize
        self.encoder = TransformerEncoder(config, rngs=rngs)

    def _keys(self, key):
        # The head draws nothing, so the encoder gets the key as it is.
        return key, None

    def head(self, hidden, attention_mask, *, train, key):
        """Mean of the real tokens' hidden states, L2-normalised unless ``normalize=False``."""
        if attention_mask is None:
            attention_mask = jnp.ones(hidden.shape[:2], jnp.int32)
        out = mean_pool(hidden, attention_mask)
        return l2_normalize(out) if self.normalize else out
