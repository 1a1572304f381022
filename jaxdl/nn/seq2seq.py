"""A GRU encoder-decoder, with or without encoder-decoder attention, run with teacher
forcing or open loop (the teacher-forcing note).

Teacher forcing feeds the decoder the *true* previous token at every step: training is
one parallel pass and each step is learned in isolation. At test time the true tokens are
unknown, so the decoder runs open loop on its *own* previous predictions, and one early
mistake puts it in states it never saw in training (exposure bias). Comparing the two
accuracies of one model shows the gap.

Without attention the decoder sees the source only through the encoder's final state,
a bottleneck of ``hidden`` numbers whatever the source length. With attention
(``Seq2Seq(..., attention="additive" | "dot")``) each decoder step also reads a weighted
sum of *all* the encoder's hidden states (Bahdanau et al. 2015; Luong et al. 2015), and
the weights come back for plotting (``return_attention=True``).

:func:`teacher_forced_loss` is the training loss (for :func:`jaxdl.training.train`) and
:func:`seq2seq_metrics` measures both accuracies on a batch such as
:class:`~jaxdl.data.addition.AdditionBatch`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Bool, Float, Int

from jaxdl._checks import check_rank
from jaxdl.losses import softmax_cross_entropy

#: The encoder-decoder attention kinds :class:`Seq2Seq` takes (``None``: no attention).
ATTENTION_KINDS = ("additive", "dot")


def attend(
    scores: Float[Array, "batch src"],
    values: Float[Array, "batch src dim"],
    *,
    where: Bool[Array, "batch src"] | None = None,
) -> tuple[Float[Array, "batch dim"], Float[Array, "batch src"]]:
    r"""Softmax of the scores over the source positions, and the weighted sum of values.

    .. math::

      \alpha_s = \frac{\exp e_s}{\sum_{s' \in \text{where}} \exp e_{s'}}, \qquad
      c = \sum_s \alpha_s v_s

    Masked positions (``where`` False) get weight 0: their score is replaced by the lowest
    finite float (as the transformer's self-attention does), so a row with every position
    masked stays finite (uniform) instead of NaN.

    >>> c, a = attend(jnp.array([[0.0, 0.0, 5.0]]), jnp.eye(3)[None],
    ...               where=jnp.array([[True, True, False]]))
    >>> a.tolist(), c.tolist()
    ([[0.5, 0.5, 0.0]], [[0.5, 0.5, 0.0]])

    Args:
      scores: ``(batch, src)`` alignment scores :math:`e_s`.
      values: ``(batch, src, dim)`` the vectors to average (the encoder states).
      where: optional ``(batch, src)``, True where a position may be attended to.

    Returns:
      ``(context, weights)``: ``(batch, dim)`` and ``(batch, src)``, each weights row
      summing to 1.
    """
    if where is not None:
        scores = jnp.where(where, scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores, axis=-1)
    return jnp.einsum("bs,bsd->bd", weights, values), weights


class AdditiveAttention(nnx.Module):
    r"""Bahdanau's score :math:`e_s = v^\top \tanh(W_q q + W_k h_s + b)`.

    :meth:`keys` projects the encoder states once per source (``(batch, src, features)``);
    :meth:`scores` then costs one ``(hidden, features)`` product per decoder step.
    """

    def __init__(self, hidden: int, *, features: int, rngs: nnx.Rngs):
        self.query = nnx.Linear(hidden, features, use_bias=False, rngs=rngs)
        self.key = nnx.Linear(hidden, features, rngs=rngs)
        self.score = nnx.Linear(features, 1, use_bias=False, rngs=rngs)

    def keys(self, memory: Float[Array, "batch src hidden"]) -> Float[Array, "batch src f"]:
        return self.key(memory)

    def scores(
        self, query: Float[Array, "batch hidden"], keys: Float[Array, "batch src f"]
    ) -> Float[Array, "batch src"]:
        return self.score(jnp.tanh(self.query(query)[:, None, :] + keys))[..., 0]


class DotProductAttention(nnx.Module):
    r"""Luong's dot score, scaled as in the transformer: :math:`e_s = q^\top h_s /
    \sqrt{\text{hidden}}` (no parameters; the scale keeps the softmax soft at init)."""

    def keys(self, memory: Float[Array, "batch src hidden"]) -> Float[Array, "batch src hidden"]:
        return memory

    def scores(
        self, query: Float[Array, "batch hidden"], keys: Float[Array, "batch src hidden"]
    ) -> Float[Array, "batch src"]:
        return jnp.einsum("bh,bsh->bs", query, keys) / jnp.sqrt(keys.shape[-1])


class Seq2Seq(nnx.Module):
    r"""Embedding -> GRU encoder; its final state starts a GRU decoder -> logits.

    With ``attention`` the decoder step :math:`t` first scores every encoder state
    :math:`h_s` against its previous state :math:`s_{t-1}` (``"additive"``:
    :class:`AdditiveAttention`, ``"dot"``: :class:`DotProductAttention`), takes the
    context :math:`c_t = \sum_s \alpha_{ts} h_s` (:func:`attend`), and then

    .. math::

      s_t = \mathrm{GRU}(s_{t-1}, [E y_{t-1}; c_t]), \qquad
      \text{logits}_t = W_o [s_t; c_t] + b_o .

    Without attention (``None``, the default) it is the plain model: parameters, their
    initial values for a seed and the outputs are those of the attention-free class.

    >>> m = Seq2Seq(vocab_size=13, hidden=16, rngs=nnx.Rngs(0))
    >>> m(jnp.zeros((2, 7), jnp.int32), jnp.zeros((2, 4), jnp.int32)).shape
    (2, 4, 13)
    >>> m = Seq2Seq(vocab_size=13, hidden=16, attention="dot", rngs=nnx.Rngs(0))
    >>> logits, weights = m(jnp.zeros((2, 7), jnp.int32), jnp.zeros((2, 4), jnp.int32),
    ...                     return_attention=True)
    >>> logits.shape, weights.shape  # weights: (batch, target step, source position)
    ((2, 4, 13), (2, 4, 7))

    Raises:
      ValueError: ``attention`` is not ``None``, ``"additive"`` or ``"dot"``.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        hidden: int = 128,
        embed: int = 32,
        attention: str | None = None,
        rngs: nnx.Rngs,
    ):
        if attention is not None and attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be None, 'additive' or 'dot', got {attention!r}.")
        self.vocab_size = vocab_size
        self.attention_kind = attention
        context = 0 if attention is None else hidden
        # Built in the plain model's order, so that without attention a seed gives the
        # same initial parameters as before attention existed.
        self.embed = nnx.Embed(vocab_size, embed, rngs=rngs)
        self.encoder = nnx.RNN(nnx.GRUCell(embed, hidden, rngs=rngs), return_carry=True)
        self.decoder_cell = nnx.GRUCell(embed + context, hidden, rngs=rngs)
        self.decoder = nnx.RNN(self.decoder_cell)
        self.out = nnx.Linear(hidden + context, vocab_size, rngs=rngs)
        if attention == "additive":
            self.attention = AdditiveAttention(hidden, features=hidden, rngs=rngs)
        elif attention == "dot":
            self.attention = DotProductAttention()

    def encode(self, source: Int[Array, " batch src"]) -> Float[Array, " batch hidden"]:
        check_rank("source", source, rank=2)
        carry, _ = self.encoder(self.embed(source))
        return carry

    def __call__(
        self,
        source: Int[Array, " batch src"],
        target_inputs: Int[Array, " batch tgt"],
        *,
        source_mask: Bool[Array, " batch src"] | None = None,
        return_attention: bool = False,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> Any:
        """Teacher forcing: logits ``(batch, tgt, vocab)`` for each target step given the
        true previous tokens; with ``return_attention`` also the attention weights
        ``(batch, tgt, src)``. ``source_mask`` (attention only): True where the decoder
        may attend (the encoder still reads every position: pad on the left)."""
        del train, key  # no dropout
        check_rank("target_inputs", target_inputs, rank=2)
        self._check_attention_args(source_mask, return_attention)
        if self.attention_kind is None:
            h = self.decoder(self.embed(target_inputs), initial_carry=self.encode(source))
            return self.out(h)
        carry, memory, keys, mask = self._attention_start(source, source_mask)

        def step(carry, embedded):
            carry, logits, weights = self._attention_step(carry, embedded, memory, keys, mask)
            return carry, (logits, weights)

        # Time-major scan over the decoder inputs; the cell's parameters are closed over.
        inputs = jnp.swapaxes(self.embed(target_inputs), 0, 1)
        _, (logits, weights) = jax.lax.scan(step, carry, inputs)
        logits, weights = jnp.swapaxes(logits, 0, 1), jnp.swapaxes(weights, 0, 1)
        return (logits, weights) if return_attention else logits

    def generate(
        self,
        source: Int[Array, " batch src"],
        *,
        start: Int[Array, " batch"],
        length: int,
        source_mask: Bool[Array, " batch src"] | None = None,
        return_attention: bool = False,
    ) -> Any:
        """Open loop: each step's input is the previous step's argmax (greedy decoding).

        Returns logits ``(batch, length, vocab)``, with ``return_attention`` also the
        weights ``(batch, length, src)``."""
        self._check_attention_args(source_mask, return_attention)
        if self.attention_kind is None:
            carry = self.encode(source)
            token = start
            logits = []
            for _ in range(length):  # short, static length: unrolled
                carry, h = self.decoder_cell(carry, self.embed(token))
                step = self.out(h)
                logits.append(step)
                token = jnp.argmax(step, axis=-1)
            return jnp.stack(logits, axis=1)
        carry, memory, keys, mask = self._attention_start(source, source_mask)
        token = start
        logits, weights = [], []
        for _ in range(length):
            carry, step, alpha = self._attention_step(carry, self.embed(token), memory, keys, mask)
            logits.append(step)
            weights.append(alpha)
            token = jnp.argmax(step, axis=-1)
        logits, weights = jnp.stack(logits, axis=1), jnp.stack(weights, axis=1)
        return (logits, weights) if return_attention else logits

    def _check_attention_args(self, source_mask: Any, return_attention: bool) -> None:
        if self.attention_kind is None and (source_mask is not None or return_attention):
            raise ValueError(
                "source_mask and return_attention need a model with attention "
                "('additive' or 'dot'), got attention=None."
            )

    def _attention_start(self, source: jax.Array, source_mask: jax.Array | None):
        """The decoder's first state, the encoder states, their keys and the mask."""
        check_rank("source", source, rank=2)
        if source_mask is not None and source_mask.shape != source.shape:
            raise ValueError(
                f"source_mask has shape {source_mask.shape}, expected source's shape "
                f"{source.shape}."
            )
        # The zero state the cell would draw, passed in: drawing it advances the RNN's
        # RNG counter, which jax.vmap or lax.scan around the model could not update.
        start = jnp.zeros(source.shape[:1] + (self.decoder_cell.hidden_features,))
        carry, memory = self.encoder(self.embed(source), initial_carry=start)
        return carry, memory, self.attention.keys(memory), source_mask

    def _attention_step(self, carry, embedded, memory, keys, mask):
        """One decoder step: attend from the previous state, run the GRU, read out."""
        context, weights = attend(self.attention.scores(carry, keys), memory, where=mask)
        carry, h = self.decoder_cell(carry, jnp.concatenate([embedded, context], axis=-1))
        return carry, self.out(jnp.concatenate([h, context], axis=-1)), weights


def teacher_forced_loss(
    model: Any, batch: Any, *, train: bool, key: jax.Array | None
) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
    """Mean per-token cross-entropy with the true previous tokens as decoder inputs.

    Args:
      model: maps ``(source, target_inputs, *, train, key)`` to logits ``(batch, tgt,
        vocab)`` (a :class:`Seq2Seq`).
      batch: has ``source`` ``(batch, src)``, ``target_inputs`` ``(batch, tgt)`` (the
        targets shifted right behind a start token) and ``targets`` ``(batch, tgt)``;
        a ``source_mask`` field that is not None is passed on to the model.
      train: training mode (passed to the model).
      key: the step's PRNG key (passed to the model).

    Returns:
      ``(loss, {"loss": loss})``, the loss a scalar.

    Raises:
      ValueError: if the shapes disagree.
    """
    logits = model(batch.source, batch.target_inputs, train=train, key=key, **_masked(batch))
    loss = softmax_cross_entropy(logits, batch.targets).mean()
    return loss, {"loss": loss}


def _masked(batch: Any) -> dict[str, Any]:
    """``{"source_mask": ...}`` where the batch has a ``source_mask`` that is not None."""
    mask = getattr(batch, "source_mask", None)
    return {} if mask is None else {"source_mask": mask}


def _accuracies(logits: jax.Array, targets: jax.Array, prefix: str) -> dict[str, jax.Array]:
    correct = jnp.argmax(logits, -1) == targets
    return {
        f"{prefix}_token_accuracy": jnp.mean(correct),
        f"{prefix}_sequence_accuracy": jnp.mean(jnp.all(correct, axis=1)),
    }


def seq2seq_metrics(model: Seq2Seq, batch: Any) -> dict[str, Float[Array, ""]]:
    """Token and whole-answer accuracy, teacher-forced and open loop, on one batch.

    The open loop starts from each example's first decoder input (the start token) and
    generates as many tokens as ``batch.targets`` has. A whole answer is right in both
    modes alike (every digit right under teacher forcing means open loop reads the same
    inputs); the per-token accuracies differ while the model still makes mistakes.

    Args:
      model: a :class:`Seq2Seq` (anything with its call and ``generate``).
      batch: as for :func:`teacher_forced_loss`.

    Returns:
      ``{"teacher_forced_token_accuracy", "teacher_forced_sequence_accuracy",
      "open_loop_token_accuracy", "open_loop_sequence_accuracy"}``, scalars in [0, 1].

    Raises:
      ValueError: if the shapes disagree.
    """
    forced = model(batch.source, batch.target_inputs, **_masked(batch))
    start = batch.target_inputs[:, 0]
    length = batch.targets.shape[1]
    free = model.generate(batch.source, start=start, length=length, **_masked(batch))
    return {**_accuracies(forced, batch.targets, "teacher_forced"),
            **_accuracies(free, batch.targets, "open_loop")}  # fmt: skip
