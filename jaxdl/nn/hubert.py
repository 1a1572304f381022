"""HuBERT-style masked prediction (Hsu et al. 2021) on frame features.

HuBERT does BERT's masked-token prediction on audio, where there are no tokens: an
offline teacher (k-means on MFCC frames in the first iteration, on an intermediate layer
of the previous model in the next) gives every frame a cluster id, spans of input frames
are replaced by a learned mask embedding, and a transformer encoder is trained to predict
the cluster ids of the masked frames from the context. The teacher only has to be
consistent, not right: the model learns the sequential structure that makes a hidden
frame's cluster predictable, and its features end up better than the teacher's.

:func:`span_mask` draws the masks, :class:`FrameEncoder` is the model (a linear frame
projection into the blocks of :mod:`jaxdl.nn.transformer`), :func:`masked_prediction_step`
and :func:`masked_prediction_metrics` are its training loss and evaluation for
:func:`jaxdl.training.train`, on a :class:`MaskedBatch`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from jaxdl._checks import check_rank, check_trailing_shape
from jaxdl.losses import masked_prediction_loss
from jaxdl.metrics import accuracy
from jaxdl.nn._dropout import Dropout, split_key
from jaxdl.nn.detach import LayerNorm
from jaxdl.nn.positions import sinusoidal_positions
from jaxdl.nn.transformer import TransformerBlock, TransformerConfig, linear


def span_mask(
    key: PRNGKeyArray,
    lengths: Int[Array, " batch"],
    *,
    time: int,
    mask_prob: float,
    span: int,
) -> Bool[Array, "batch time"]:
    """HuBERT's (wav2vec 2.0's) span masking: every valid frame starts a masked span of
    ``span`` frames with probability ``mask_prob``; spans may overlap and are cut at the
    sequence's end. Padding (frames at or past ``lengths``) is never masked.

    A frame is masked when a span started at one of the ``span`` frames up to it, so
    the expected masked fraction of a long sequence is ``1 - (1 - mask_prob) ** span``.

    Example:
      >>> m = span_mask(jax.random.key(0), jnp.array([40, 10]), time=40, mask_prob=0.2, span=3)
      >>> m.shape, bool(m[1, 10:].any())
      ((2, 40), False)
    """
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob is {mask_prob}, expected a probability in [0, 1].")
    if span < 1:
        raise ValueError(f"span is {span}, expected at least 1 frame.")
    lengths = jnp.asarray(lengths)
    check_rank("lengths", lengths, rank=1)
    valid = jnp.arange(time)[None, :] < lengths[:, None]  # (B, T)
    starts = jax.random.bernoulli(key, mask_prob, valid.shape) & valid
    begun = jnp.cumsum(starts, axis=1)
    # begun[t] - begun[t - span]: spans started within the last `span` frames.
    earlier = jnp.pad(begun, ((0, 0), (span, 0)))[:, :time]
    return (begun - earlier > 0) & valid


class MaskedBatch(NamedTuple):
    """Inputs and targets of masked prediction."""

    frames: Float[Array, "batch time features"]
    frame_lengths: Int[Array, " batch"]
    targets: Int[Array, "batch time"]  # the teacher's cluster id of each frame
    mask: Bool[Array, "batch time"]  # True: the input frame is replaced by the mask embedding


class FrameEncoder(nnx.Module):
    """Frames -> linear projection -> (mask embedding) -> positions -> transformer blocks
    -> per-frame logits over ``num_targets`` cluster ids.

    The blocks are :class:`~jaxdl.nn.transformer.TransformerBlock` (post-LN, padded frames
    masked out of attention), sized by ``config`` (its ``vocab_size`` and ``pad_token_id``
    are unused: frames are not tokens). Positions are the fixed sinusoidal table, or
    rotary inside attention when ``config.position_embedding_type == "rotary"``.

    Example:
      >>> cfg = TransformerConfig(dim=16, n_layers=2, n_heads=2, hidden_dim=32,
      ...                         position_embedding_type="sinusoidal")
      >>> enc = FrameEncoder(8, 5, cfg, rngs=nnx.Rngs(0))
      >>> frames, lengths = jnp.ones((3, 7, 8)), jnp.array([7, 5, 2])
      >>> enc(frames, lengths).shape, enc.features(frames, lengths, layer=1).shape
      ((3, 7, 5), (3, 7, 16))
    """

    def __init__(
        self, features: int, num_targets: int, config: TransformerConfig, *, rngs: nnx.Rngs
    ):
        if config.position_embedding_type == "learned":
            raise ValueError(
                "config.position_embedding_type is 'learned', expected 'sinusoidal' or "
                "'rotary' (utterances have no fixed maximum length)."
            )
        self.features_in, self.config = features, config
        # LeCun-normal, not BERT's N(0, 0.02): projected frames start at unit scale, so
        # the position table added next does not drown them before the LayerNorm.
        self.project = nnx.Linear(features, config.dim, dtype=config.dtype, rngs=rngs)
        # HuBERT draws the mask embedding uniformly; any small random vector works.
        self.mask_embedding = nnx.Param(jax.random.uniform(rngs.params(), (config.dim,)))
        self.layer_norm = LayerNorm(config.dim, eps=config.eps)
        self.dropout = Dropout(config.dropout)
        self.layers = nnx.List(
            [TransformerBlock(config, rngs=rngs) for _ in range(config.n_layers)]
        )
        self.head = linear(config.dim, num_targets, rngs, config.dtype)

    def hidden_states(
        self,
        frames: Float[Array, "batch time features"],
        lengths: Int[Array, " batch"],
        *,
        mask: Bool[Array, "batch time"] | None = None,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> tuple[Float[Array, "batch time dim"], ...]:
        """The input to the blocks, then each block's output: ``n_layers + 1`` states."""
        check_rank("frames", frames, rank=3)
        check_trailing_shape("frames", frames, (self.features_in,))
        b, t, _ = frames.shape
        if jnp.shape(lengths) != (b,):
            raise ValueError(f"lengths has shape {jnp.shape(lengths)}, expected ({b},).")
        keys = split_key(key, len(self.layers) + 1)
        x = self.project(frames)  # (B, T, D)
        if mask is not None:
            if mask.shape != (b, t):
                raise ValueError(f"mask has shape {mask.shape}, expected {(b, t)}.")
            x = jnp.where(mask[..., None], self.mask_embedding[...].astype(x.dtype), x)
        if self.config.position_embedding_type == "sinusoidal":
            x = x + sinusoidal_positions(t, self.config.dim).astype(x.dtype)[None]
        x = self.dropout(self.layer_norm(x), train=train, key=keys[0])
        attention_mask = (jnp.arange(t)[None, :] < lengths[:, None]).astype(jnp.int32)
        states = [x]
        for layer, k in zip(self.layers, keys[1:], strict=True):
            x, _ = layer(x, attention_mask, train=train, key=k)
            states.append(x)
        return tuple(states)

    def __call__(
        self,
        frames: Float[Array, "batch time features"],
        lengths: Int[Array, " batch"],
        *,
        mask: Bool[Array, "batch time"] | None = None,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch time num_targets"]:
        """Logits over the cluster ids of every frame (masked frames replaced first)."""
        states = self.hidden_states(frames, lengths, mask=mask, train=train, key=key)
        return self.head(states[-1])

    def features(
        self,
        frames: Float[Array, "batch time features"],
        lengths: Int[Array, " batch"],
        *,
        layer: int,
    ) -> Float[Array, "batch time dim"]:
        """Block ``layer``'s output (0: the projected input, ``n_layers``: the last block)
        on unmasked frames in inference mode, zero on padding: the learned features a
        downstream model or the next iteration's k-means reads."""
        if not 0 <= layer <= len(self.layers):
            raise ValueError(f"layer is {layer}, expected 0 <= layer <= {len(self.layers)}.")
        h = self.hidden_states(frames, lengths)[layer]
        valid = jnp.arange(frames.shape[1])[None, :] < lengths[:, None]
        return jnp.where(valid[..., None], h, 0.0)


def masked_prediction_step(
    model: Any, batch: MaskedBatch, *, train: bool, key: jax.Array | None
) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
    """:func:`~jaxdl.losses.masked_prediction_loss` of ``model`` (a :class:`FrameEncoder`)
    on ``batch``, averaged over all the batch's masked frames; a loss function for
    :func:`jaxdl.training.train`.

    Returns:
      ``(loss, {"loss": loss})``, the loss a scalar.
    """
    logits = model(batch.frames, batch.frame_lengths, mask=batch.mask, train=train, key=key)
    loss = _per_frame(masked_prediction_loss(logits, batch.targets, batch.mask), batch.mask)
    return loss, {"loss": loss}


def _per_frame(per_example: Array, mask: Array) -> Array:
    """The mean over masked frames from per-sequence means: a short utterance with one
    masked frame must not weigh as much as a long one with ten (and one with none, whose
    loss is 0, not at all)."""
    n = jnp.sum(mask, axis=1).astype(per_example.dtype)
    return jnp.sum(per_example * n) / jnp.maximum(jnp.sum(n), 1.0)


def masked_prediction_metrics(model: Any, batch: MaskedBatch) -> dict[str, Float[Array, ""]]:
    """Loss and accuracy of the predicted cluster ids on the masked frames, and the
    accuracy on the unmasked valid frames (a copy of the input is enough there).

    Returns:
      ``{"loss", "masked_accuracy", "unmasked_accuracy"}``, scalars.
    """
    logits = model(batch.frames, batch.frame_lengths, mask=batch.mask)
    valid = jnp.arange(batch.frames.shape[1])[None, :] < batch.frame_lengths[:, None]
    shown = valid & ~batch.mask

    def acc(where):
        return accuracy(logits, batch.targets, where=where).sum() / jnp.maximum(where.sum(), 1)

    loss = _per_frame(masked_prediction_loss(logits, batch.targets, batch.mask), batch.mask)
    return {"loss": loss, "masked_accuracy": acc(batch.mask), "unmasked_accuracy": acc(shown)}
