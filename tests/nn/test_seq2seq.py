"""The GRU encoder-decoder: open loop against teacher forcing, and its metrics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxdl.data.addition import EQUALS, VOCAB_SIZE, addition_batch
from jaxdl.losses import softmax_cross_entropy
from jaxdl.nn.seq2seq import Seq2Seq, seq2seq_metrics, teacher_forced_loss


def test_open_loop_is_teacher_forcing_on_its_own_predictions():
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, rngs=nnx.Rngs(0))
    b = addition_batch(jax.random.key(4), batch_size=8, digits=2)
    start = jnp.full((8,), EQUALS)
    forced = nnx.jit(lambda m, t: m(b.source, t))
    free = nnx.jit(lambda m: m.generate(b.source, start=start, length=3))(model)
    own = jnp.concatenate([start[:, None], jnp.argmax(free, -1)[:, :-1]], axis=1)
    np.testing.assert_allclose(forced(model, own), free, atol=1e-5)
    # Causality: changing a later decoder input leaves earlier logits alone.
    changed = b.target_inputs.at[:, 2].set(0)
    np.testing.assert_allclose(forced(model, changed)[:, :2],
                               forced(model, b.target_inputs)[:, :2], atol=1e-6)  # fmt: skip


def test_loss_and_metrics():
    model = Seq2Seq(VOCAB_SIZE, hidden=16, embed=8, rngs=nnx.Rngs(1))
    b = addition_batch(jax.random.key(5), batch_size=32, digits=2, reverse=True)
    loss, metrics = teacher_forced_loss(model, b, train=True, key=jax.random.key(0))
    logits = model(b.source, b.target_inputs)
    np.testing.assert_allclose(loss, softmax_cross_entropy(logits, b.targets).mean(), rtol=1e-6)
    assert set(metrics) == {"loss"}
    m = seq2seq_metrics(model, b)
    forced = jnp.argmax(logits, -1) == b.targets
    np.testing.assert_allclose(m["teacher_forced_token_accuracy"], forced.mean())
    np.testing.assert_allclose(m["teacher_forced_sequence_accuracy"], forced.all(1).mean())
    # Open loop starts from the batch's first decoder input, the "=" token.
    assert bool(jnp.all(b.target_inputs[:, 0] == EQUALS))
    free = model.generate(b.source, start=b.target_inputs[:, 0], length=b.targets.shape[1])
    np.testing.assert_allclose(m["open_loop_token_accuracy"],
                               (jnp.argmax(free, -1) == b.targets).mean())  # fmt: skip
    assert float(m["open_loop_sequence_accuracy"]) == float(m["teacher_forced_sequence_accuracy"])
