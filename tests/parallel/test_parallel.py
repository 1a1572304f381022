"""One-device tests of jaxdl.parallel: mesh errors, FSDP specs, loss scaling, remat memory."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl import parallel
from jaxdl.nn import CNNClassifier, DistilBertClassifier, TransformerConfig
from jaxdl.training import TrainState, classifier_loss, fit
from jaxdl.training.step import train_step


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("data=3", "mesh 'data=3' asks for 3 devices, but there are 1"),
        ("data=2,fsdp=-1", "cannot fill 1 devices"),
        ("pipe=1", "expected one of data, fsdp"),
        ("data=four", "expected axis=size items"),
        ("data=1,data=1", "names axis 'data' twice"),
    ],
)
def test_wrong_mesh_is_one_sentence(spec, message):
    with pytest.raises(ValueError, match=message) as info:
        parallel.make_mesh(spec)
    assert str(info.value).count(". ") == 0 and "\n" not in str(info.value)


def test_mesh_axes_and_batch_split():
    mesh = parallel.make_mesh("data=-1")
    assert dict(mesh.shape) == {"data": jax.device_count()}
    assert mesh.axis_types == (jax.sharding.AxisType.Auto,)
    fake = np.asarray(jax.devices() * 8, dtype=object)[:8]  # shape checks only
    mesh8 = jax.sharding.Mesh(fake.reshape(4, 2), ("data", "fsdp"))
    assert parallel.batch_divisor(mesh8) == 8
    with pytest.raises(ValueError, match="batch_size is 100, which does not split evenly"):
        parallel.check_batch_size(100, mesh8)
    parallel.check_batch_size(128, mesh8)


def test_fit_rejects_batch_that_does_not_split_over_micro_batches():
    state = _classifier_state("float32")
    data = {"image": np.zeros((64, 16, 16, 1), np.float32), "label": np.zeros(64, np.int32)}
    with pytest.raises(ValueError, match="accum_steps=3"):
        fit(
            state,
            data,
            loss_fn=classifier_loss,
            num_epochs=1,
            batch_size=32,
            data_key=jax.random.key(0),
            progress=False,
            mesh=parallel.make_mesh("data=1"),
            accum_steps=3,
        )


def test_fsdp_spec_shards_largest_divisible_axis():
    assert parallel.fsdp_spec((3, 3, 8, 16), 8) == jax.sharding.PartitionSpec(
        None, None, None, "fsdp"
    )
    assert parallel.fsdp_spec((12, 8), 8) == jax.sharding.PartitionSpec(None, "fsdp")
    assert parallel.fsdp_spec((), 8) == jax.sharding.PartitionSpec()
    assert parallel.fsdp_spec((64, 64), 1) == jax.sharding.PartitionSpec()


def test_loss_scale_grows_after_interval_and_backs_off():
    s = parallel.DynamicLossScale.create(8.0, growth_interval=3)
    for _ in range(3):
        s = s.adjust(jnp.array(True))
    assert float(s.loss_scale) == 16.0 and int(s.good_steps) == 0
    s = s.adjust(jnp.array(True)).adjust(jnp.array(False))
    assert float(s.loss_scale) == 8.0 and int(s.good_steps) == 0
    grads = {"w": jnp.array([16.0, 8.0], jnp.float16)}
    np.testing.assert_allclose(np.asarray(s.unscale(grads)["w"], np.float32), [2.0, 1.0])


def _classifier_state(precision, loss_scale=None):
    model = CNNClassifier(
        (16, 16, 1),
        channels=(8, 16),
        hidden=(32,),
        dropout=0.0,
        dtype=parallel.compute_dtype(precision),
        rngs=nnx.Rngs(0),
    )
    return TrainState.create(model, optax.adam(1e-2), key=jax.random.key(1), loss_scale=loss_scale)


def _batch(n=32, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.normal(size=(n, 16, 16, 1)).astype(np.float32)
    images[np.arange(n), labels, :, 0] += 3.0
    return {"image": jnp.asarray(images), "label": jnp.asarray(labels, jnp.int32)}


def test_float16_overflow_skips_step_halves_scale_and_training_continues():
    # 2**24 times the loss overflows float16 (max 65504) in the backward pass.
    scale = parallel.DynamicLossScale.create(2.0**24, growth_interval=1000)
    state = _classifier_state("float16", scale)
    step = jax.jit(functools.partial(train_step, loss_fn=classifier_loss))
    batch = _batch()
    before = jax.device_get(state.params)
    state, metrics = step(state, batch)
    assert float(metrics["skipped"]) == 1.0
    assert float(state.loss_scale.loss_scale) == 2.0**23
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(state.params), before)
    assert int(state.opt_state[0].count) == 0  # Adam did not count the skipped step
    losses, skipped = [], []
    for _ in range(30):
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
        skipped.append(float(metrics["skipped"]))
    assert 0 < sum(skipped) < 30  # some more backed off, then steps went through
    assert float(state.loss_scale.loss_scale) < 2.0**23
    assert losses[-1] < 0.5 * losses[0]
    assert all(np.isfinite(jax.tree.leaves(jax.device_get(state.params))[0]).ravel())
    assert jax.tree.leaves(state.params)[0].dtype == jnp.float32  # master weights


def test_bfloat16_computes_in_bfloat16_with_float32_weights():
    state = _classifier_state("bfloat16")
    model = state.model()
    logits = model(_batch()["image"])
    assert logits.dtype == jnp.bfloat16
    assert {x.dtype for x in jax.tree.leaves(state.params)} == {jnp.dtype(jnp.float32)}
    new, _ = jax.jit(functools.partial(train_step, loss_fn=classifier_loss))(state, _batch())
    assert {x.dtype for x in jax.tree.leaves(new.params)} == {jnp.dtype(jnp.float32)}


def _text_loss(model, batch, *, train, key):
    logits = model(batch["ids"], train=train, key=key).astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss, {"loss": loss}


@pytest.mark.slow
def test_remat_cuts_deep_transformer_memory_at_equal_results():
    rng = np.random.default_rng(0)
    batch = {
        "ids": jnp.asarray(rng.integers(1, 32, (8, 32)), jnp.int32),
        "label": jnp.asarray(rng.integers(0, 2, 8), jnp.int32),
    }
    temps, params = {}, {}
    for remat in ("off", "nothing"):
        cfg = TransformerConfig(
            vocab_size=32,
            dim=32,
            n_layers=4,
            n_heads=4,
            hidden_dim=64,
            max_position_embeddings=32,
            dropout=0.1,
            attention_dropout=0.1,
            remat=parallel.remat_policy(remat),
        )
        model = DistilBertClassifier(cfg, rngs=nnx.Rngs(0))
        state = TrainState.create(model, optax.sgd(0.1), key=jax.random.key(0))
        step = jax.jit(functools.partial(train_step, loss_fn=_text_loss))
        compiled = step.lower(state, batch).compile()
        temps[remat] = compiled.memory_analysis().temp_size_in_bytes
        params[remat] = jax.device_get(compiled(state, batch)[0].params)
    assert temps["nothing"] <= 0.6 * temps["off"], temps
    for remat in ("nothing",):
        jax.tree.map(
            functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6),
            params[remat],
            params["off"],
        )


def test_remat_scan_returns_every_layers_attention():
    cfg = TransformerConfig(
        vocab_size=20,
        dim=16,
        n_layers=3,
        n_heads=2,
        hidden_dim=32,
        remat=jax.checkpoint_policies.nothing_saveable,
    )
    enc = DistilBertClassifier(cfg, rngs=nnx.Rngs(0))
    plain = DistilBertClassifier(
        TransformerConfig(vocab_size=20, dim=16, n_layers=3, n_heads=2, hidden_dim=32),
        rngs=nnx.Rngs(0),
    )
    ids = jnp.ones((2, 5), jnp.int32)
    logits, probs = enc(ids, return_attention=True)
    ref_logits, ref_probs = plain(ids, return_attention=True)
    assert len(probs) == 3 and probs[0].shape == (2, 2, 5, 5)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-6)
    np.testing.assert_allclose(probs[2], ref_probs[2], rtol=1e-6)


def test_unknown_remat_and_precision_are_one_sentence():
    with pytest.raises(ValueError, match=r"^remat is 'some', expected one of off, nothing, dots"):
        parallel.remat_policy("some")
    assert parallel.remat_policy("off") is None
    assert parallel.remat_policy("dots") is jax.checkpoint_policies.dots_with_no_batch_dims_saveable
    # Models take the policy itself; a name is refused when the model is built.
    with pytest.raises(TypeError, match=r"^remat is 'nothing', expected None or a jax.checkp"):
        TransformerConfig(remat="nothing")
    with pytest.raises(ValueError, match="precision is 'fp8', expected one of float32"):
        parallel.compute_dtype("fp8")


@pytest.mark.slow
def test_unet_checkpointed_blocks_give_the_same_gradients():
    from jaxdl.nn.unet import UNet

    x, t = jnp.ones((2, 8, 8, 1)), jnp.array([3, 7])

    def grads(remat):
        policy = parallel.remat_policy(remat)
        net = UNet((8, 8, 1), channels=(4, 8), attention=False, remat=policy, rngs=nnx.Rngs(0))
        graphdef, params = nnx.split(net)

        def loss(params):
            return jnp.sum(nnx.merge(graphdef, params)(x, t) ** 2)

        return jax.jit(jax.grad(loss))(params)

    jax.tree.map(
        functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-7),
        grads("nothing"),
        grads("off"),
    )
