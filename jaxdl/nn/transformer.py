"""Post-LN transformer encoder (DistilBERT, BERT) built from small NNX blocks.

The seed's ``AttentionBlock`` hard-coded batch 1, 12 heads of 64 and had no padding mask;
here every size comes from :class:`TransformerConfig` and padded keys are masked.

Every forward can start from token ids or from the embedding layer's output (what the
XAI methods differentiate with respect to), can return the attention probabilities of
every layer, and takes a :class:`Detach` whose switches turn LayerNorm, the attention
softmax and GELU into the "detachment" forms of Ali et al. (2022), "XAI for Transformers:
Better Explanations through Conservative Propagation". The detached forms compute the
same values; only their gradients differ, so gradient x input becomes LRP relevance.

The task heads on top of the encoder (sequence classification, sentence embeddings) are in
:mod:`jaxdl.nn.bert`; :func:`jaxdl.pretrained.from_hf_config` reads a Hugging Face config.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from jaxdl._checks import check_rank, check_same_shape, check_trailing_shape
from jaxdl.nn._dropout import Dropout, split_key

# Re-exported: these lived here before jaxdl.nn.detach, and user code imports them from here.
from jaxdl.nn.detach import LRP, NO_DETACH, Detach, LayerNorm, gelu  # noqa: F401
from jaxdl.nn.positions import apply_rotary, sinusoidal_positions
from jaxdl.parallel.remat import Policy, check_policy, scan_blocks

POSITION_EMBEDDING_TYPES = ("learned", "sinusoidal", "rotary")

# BERT-family initialisation (truncation aside): N(0, 0.02) weights, zero biases.
_INIT = nnx.initializers.normal(0.02)


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Sizes and constants of a BERT-style encoder; see :func:`jaxdl.pretrained.from_hf_config`.

    ``type_vocab_size=0`` means no token-type embeddings (DistilBERT); BERT has 2.

    ``position_embedding_type`` says how tokens learn their positions:

    - ``"learned"`` (BERT, DistilBERT): a trained ``(max_position_embeddings, dim)`` table
      added to the token embeddings.
    - ``"sinusoidal"``: the fixed table of :func:`jaxdl.nn.sinusoidal_positions` added in
      its place (DistilBERT's ``sinusoidal_pos_embds``); no parameters.
    - ``"rotary"``: nothing added; every attention layer rotates its queries and keys
      (:func:`jaxdl.nn.apply_rotary`, base ``rotary_base``), so ``head_dim`` must be
      even. There is no table, so ``max_position_embeddings`` does not limit the length.
    """

    vocab_size: int = 30522
    dim: int = 768
    n_layers: int = 6
    n_heads: int = 12
    hidden_dim: int = 3072
    max_position_embeddings: int = 512
    position_embedding_type: str = "learned"
    rotary_base: float = 10000.0
    eps: float = 1e-12
    type_vocab_size: int = 0
    # The padding token; its embedding row starts at zero and gets no gradient (torch's
    # nn.Embedding padding_idx, as transformers uses it). None: an ordinary row.
    pad_token_id: int | None = 0
    dropout: float = 0.1
    attention_dropout: float = 0.1
    # BERT drops the attention output before its residual; DistilBERT does not.
    attention_output_dropout: bool = False
    # Sequence classification head (DistilBERT); ignored by the sentence encoder.
    num_labels: int = 2
    classifier_dropout: float = 0.2
    # Compute dtype of the layers (None: the parameters' float32); the parameters stay
    # float32 either way (see jaxdl.parallel.precision).
    dtype: Any = None
    # Activation checkpointing of the blocks: None (off) or a jax.checkpoint policy, e.g.
    # jaxdl.parallel.remat_policy("nothing") (see jaxdl.parallel.remat).
    remat: Policy | None = None

    def __post_init__(self):
        if self.dim % self.n_heads:
            raise ValueError(f"dim is {self.dim}, expected a multiple of n_heads={self.n_heads}.")
        check_policy(self.remat, name="remat")
        if self.position_embedding_type not in POSITION_EMBEDDING_TYPES:
            raise ValueError(
                f"position_embedding_type is {self.position_embedding_type!r}, expected one "
                f"of {', '.join(map(repr, POSITION_EMBEDDING_TYPES))}."
            )
        if self.position_embedding_type == "rotary" and self.head_dim % 2:
            raise ValueError(
                f"head_dim is {self.head_dim} (dim / n_heads), expected an even number for "
                "rotary positions, which turn feature pairs."
            )

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


def linear(a: int, b: int, rngs: nnx.Rngs, dtype: Any = None) -> nnx.Linear:
    """``nnx.Linear(a, b)`` with the BERT-family initialisation."""
    return nnx.Linear(a, b, kernel_init=_INIT, dtype=dtype, rngs=rngs)


class Embeddings(nnx.Module):
    """Word + position (+ token-type) embeddings, LayerNorm, dropout.

    The position term is the learned table, the fixed sinusoidal one, or nothing (rotary
    positions act inside attention); see :class:`TransformerConfig`.

    ``config.pad_token_id`` is PyTorch's ``padding_idx``, as in transformers: that row of
    ``word_embeddings`` starts at zero and gets no gradient (a checkpoint's row is used as
    loaded). ``None`` makes it an ordinary row.
    """

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.word_embeddings = nnx.Embed(
            config.vocab_size, config.dim, embedding_init=_INIT, dtype=config.dtype, rngs=rngs
        )
        pad = config.pad_token_id
        if pad is not None:
            if not 0 <= pad < config.vocab_size:
                raise ValueError(
                    f"pad_token_id is {pad}, expected None or an id in [0, {config.vocab_size})."
                )
            table = self.word_embeddings.embedding
            table[...] = table[...].at[pad].set(0.0)
        self.position_embeddings = (
            nnx.Embed(
                config.max_position_embeddings,
                config.dim,
                embedding_init=_INIT,
                dtype=config.dtype,
                rngs=rngs,
            )
            if config.position_embedding_type == "learned"
            else None
        )
        self.token_type_embeddings = (
            nnx.Embed(
                config.type_vocab_size,
                config.dim,
                embedding_init=_INIT,
                dtype=config.dtype,
                rngs=rngs,
            )
            if config.type_vocab_size
            else None
        )
        self.layer_norm = LayerNorm(config.dim, eps=config.eps)
        self.dropout = Dropout(config.dropout)

    def __call__(
        self,
        input_ids: Int[Array, " batch seq"],
        token_type_ids: Int[Array, " batch seq"] | None = None,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Float[Array, "batch seq dim"]:
        check_rank("input_ids", input_ids, rank=2)
        seq = input_ids.shape[1]
        kind = self.config.position_embedding_type
        if kind != "rotary" and seq > self.config.max_position_embeddings:
            raise ValueError(
                f"input_ids has shape {input_ids.shape}: {seq} tokens, expected at most "
                f"max_position_embeddings={self.config.max_position_embeddings}; truncate "
                "the text (tokenizer(..., truncation=True))."
            )
        x = self.word_embeddings(input_ids)
        if self.config.pad_token_id is not None:  # no gradient into the padding row
            is_pad = (input_ids == self.config.pad_token_id)[..., None]
            x = jnp.where(is_pad, jax.lax.stop_gradient(x), x)
        if kind == "learned":
            x = x + self.position_embeddings(jnp.arange(seq))[None]
        elif kind == "sinusoidal":
            x = x + sinusoidal_positions(seq, self.config.dim).astype(x.dtype)[None]
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = jnp.zeros_like(input_ids)
            check_same_shape("token_type_ids", token_type_ids, "input_ids", input_ids)
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.layer_norm(x), train=train, key=key)


class SelfAttention(nnx.Module):
    """Multi-head self-attention with a key padding mask; returns output and probabilities.

    With rotary positions, queries and keys are rotated per head by their position.
    """

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        d = config.dim
        self.n_heads, self.head_dim = config.n_heads, config.head_dim
        dtype = config.dtype
        self.q_lin, self.k_lin = linear(d, d, rngs, dtype), linear(d, d, rngs, dtype)
        self.v_lin, self.out_lin = linear(d, d, rngs, dtype), linear(d, d, rngs, dtype)
        self.dropout = Dropout(config.attention_dropout)
        rotary = config.position_embedding_type == "rotary"
        self.rotary_base = config.rotary_base if rotary else None

    def __call__(
        self,
        x: Float[Array, "batch seq dim"],
        mask: Float[Array, "batch seq"],
        *,
        detach: bool = False,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> tuple[Float[Array, "batch seq dim"], Float[Array, "batch heads seq seq"]]:
        b, t, d = x.shape

        def heads(y):  # (B, T, D) -> (B, H, T, Dh)
            return y.reshape(b, t, self.n_heads, self.head_dim).transpose(0, 2, 1, 3)

        q = heads(self.q_lin(x)) / math.sqrt(self.head_dim)
        k, v = heads(self.k_lin(x)), heads(self.v_lin(x))
        if self.rotary_base is not None:
            positions = jnp.arange(t)
            q = apply_rotary(q, positions, base=self.rotary_base)
            k = apply_rotary(k, positions, base=self.rotary_base)
        scores = q @ k.transpose(0, 1, 3, 2)  # (B, H, T, T)
        # Padded keys get the lowest finite score (as transformers does), not -inf: a row
        # with every key masked then stays finite instead of becoming NaN.
        keep = mask[:, None, None, :] > 0
        scores = jnp.where(keep, scores, jnp.finfo(scores.dtype).min)
        probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(scores.dtype)
        weights = self.dropout(probs, train=train, key=key)
        if detach:
            weights = jax.lax.stop_gradient(weights)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
        return self.out_lin(context), probs


class FeedForward(nnx.Module):
    """``lin2(gelu(lin1(x)))`` with dropout on the output."""

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        self.lin1 = linear(config.dim, config.hidden_dim, rngs, config.dtype)
        self.lin2 = linear(config.hidden_dim, config.dim, rngs, config.dtype)
        self.dropout = Dropout(config.dropout)

    def __call__(self, x, *, detach: bool = False, train: bool = False, key=None):
        return self.dropout(self.lin2(gelu(self.lin1(x), detach=detach)), train=train, key=key)


class TransformerBlock(nnx.Module):
    """Post-LN block: ``h = LN(x + attn(x))``, ``out = LN(h + ffn(h))`` (DistilBERT/BERT)."""

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        self.attention = SelfAttention(config, rngs=rngs)
        self.sa_layer_norm = LayerNorm(config.dim, eps=config.eps)
        self.ffn = FeedForward(config, rngs=rngs)
        self.output_layer_norm = LayerNorm(config.dim, eps=config.eps)
        self.attention_dropout = Dropout(config.dropout if config.attention_output_dropout else 0.0)

    def __call__(self, x, mask, *, detach: Detach = NO_DETACH, train=False, key=None):
        k_attn, k_out, k_ffn = split_key(key, 3)
        attn, probs = self.attention(x, mask, detach=detach.attention, train=train, key=k_attn)
        attn = self.attention_dropout(attn, train=train, key=k_out)
        h = self.sa_layer_norm(x + attn, detach=detach.layer_norm)
        ffn = self.ffn(h, detach=detach.gelu, train=train, key=k_ffn)
        return self.output_layer_norm(h + ffn, detach=detach.layer_norm), probs


class TransformerEncoder(nnx.Module):
    """Embeddings and ``n_layers`` post-LN blocks: token ids to contextual embeddings.

    Example:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> cfg = TransformerConfig(vocab_size=50, dim=16, n_layers=2, n_heads=4, hidden_dim=32)
      >>> enc = TransformerEncoder(cfg, rngs=nnx.Rngs(0))
      >>> h, probs = enc(jnp.ones((3, 7), jnp.int32), return_attention=True)
      >>> h.shape, len(probs), probs[0].shape
      ((3, 7, 16), 2, (3, 4, 7, 7))
    """

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.embeddings = Embeddings(config, rngs=rngs)
        self.layers = nnx.List(
            [TransformerBlock(config, rngs=rngs) for _ in range(config.n_layers)]
        )

    def __call__(
        self,
        input_ids: Int[Array, " batch seq"] | None = None,
        attention_mask: Int[Array, " batch seq"] | None = None,
        *,
        token_type_ids: Int[Array, " batch seq"] | None = None,
        embeddings: Float[Array, "batch seq dim"] | None = None,
        detach: Detach = NO_DETACH,
        return_attention: bool = False,
        output_hidden_states: bool = False,
        train: bool = False,
        key: jax.Array | None = None,
    ):
        """Hidden states ``(B, T, D)``, plus a tuple of ``(B, H, T, T)`` probabilities per layer.

        Args:
          input_ids: token ids; give either these or ``embeddings``.
          attention_mask: 1 for real tokens, 0 for padding (default: all ones).
          token_type_ids: segment ids for BERT (default zeros); unused without them.
          embeddings: the embedding layer's output (after its LayerNorm), to start the
            forward there, e.g. to differentiate with respect to it.
          detach: the XAI detachment switches (gradients only; values are unchanged).
          return_attention: also return every layer's attention probabilities.
          output_hidden_states: also return the ``n_layers + 1`` hidden states ``(B, T, D)``
            as Hugging Face's ``hidden_states``: the embeddings' output, then each block's
            (the last is the returned hidden state).

        Returns:
          the hidden states, or a tuple of them followed by the probabilities (with
          ``return_attention``) and then the per-layer hidden states (with
          ``output_hidden_states``).
        """
        keys = split_key(key, len(self.layers) + 1)
        if (input_ids is None) == (embeddings is None):
            raise ValueError("Pass exactly one of input_ids and embeddings.")
        if embeddings is None:
            x = self.embeddings(input_ids, token_type_ids, train=train, key=keys[0])
        else:
            check_rank("embeddings", embeddings, rank=3)
            check_trailing_shape("embeddings", embeddings, (self.config.dim,))
            x = embeddings
        if attention_mask is None:
            attention_mask = jnp.ones(x.shape[:2], jnp.int32)
        if attention_mask.shape != x.shape[:2]:
            raise ValueError(
                f"attention_mask has shape {attention_mask.shape}, expected {x.shape[:2]}."
            )
        states = [x]
        if self.config.remat is None:
            all_probs = []
            for layer, k in zip(self.layers, keys[1:], strict=True):
                x, probs = layer(x, attention_mask, detach=detach, train=train, key=k)
                all_probs.append(probs)
                states.append(x)
        else:
            # Checkpointed blocks as one scan (see jaxdl.parallel.remat.scan_blocks). The
            # probabilities and states are outputs only when asked: outputs are stored.
            def block(layer, x, k):
                out, probs = layer(x, attention_mask, detach=detach, train=train, key=k)
                return out, (
                    probs if return_attention else None,
                    out if output_hidden_states else None,
                )

            per_block = None if key is None else jnp.stack(keys[1:])
            x, (probs, per_layer) = scan_blocks(
                list(self.layers), block, x, per_block, policy=self.config.remat
            )
            all_probs = tuple(probs) if return_attention else ()
            states += list(per_layer) if output_hidden_states else []
        extras = ((tuple(all_probs),) if return_attention else ()) + (
            (tuple(states),) if output_hidden_states else ()
        )
        return (x, *extras) if extras else x
