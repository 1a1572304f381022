"""The tensor-parallel rule table: which leaf of a transformer's train state is split how.

Abstract meshes stand in for devices this one-device process does not have; the real
2-device runs are in test_tensor_parallel.py.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx
from jax.sharding import AbstractMesh, AxisType
from jax.sharding import PartitionSpec as P

from jaxdl import parallel
from jaxdl.nn import DistilBertClassifier, TransformerConfig
from jaxdl.parallel.tensor import TRANSFORMER_RULES, leaf_spec, path_name, tensor_specs
from jaxdl.training import TrainState


def abstract(**axes: int) -> AbstractMesh:
    return AbstractMesh(tuple(axes.values()), tuple(axes), axis_types=(AxisType.Auto,) * len(axes))


@functools.cache  # a state is immutable; building one costs seconds here
def transformer_state(n_heads: int = 4) -> TrainState:
    cfg = TransformerConfig(vocab_size=32, dim=16, n_layers=2, n_heads=n_heads, hidden_dim=32)
    model = DistilBertClassifier(cfg, rngs=nnx.Rngs(0))
    return TrainState.create(model, optax.adamw(1e-3), key=jax.random.key(0))


def specs_by_name(shardings) -> dict[str, P]:
    flat = jax.tree_util.tree_flatten_with_path(shardings)[0]
    return {path_name(p): s.spec for p, s in flat}


def test_megatron_specs_for_parameters_and_their_adam_moments():
    specs = specs_by_name(parallel.state_shardings(transformer_state(), abstract(model=2)))
    expected = {
        "attention/q_lin/kernel": P(None, "model"),
        "attention/k_lin/kernel": P(None, "model"),
        "attention/v_lin/kernel": P(None, "model"),
        "attention/q_lin/bias": P("model"),
        "attention/out_lin/kernel": P("model", None),
        "attention/out_lin/bias": P(None),  # row parallel: added after the all-reduce
        "ffn/lin1/kernel": P(None, "model"),
        "ffn/lin1/bias": P("model"),
        "ffn/lin2/kernel": P("model", None),
        "ffn/lin2/bias": P(None),
        "word_embeddings/embedding": P(None, None),
        "sa_layer_norm/scale": P(None),
    }
    for layer in (0, 1):
        for prefix in ("params/", "opt_state/0/mu/", "opt_state/0/nu/"):
            for suffix, spec in expected.items():
                if "embedding" in suffix:
                    name = f"{prefix}encoder/embeddings/{suffix}"
                else:
                    name = f"{prefix}encoder/layers/{layer}/{suffix}"
                assert specs[name] == spec, (name, specs[name])
    assert specs["opt_state/0/count"] == P()
    assert specs["params/classifier/kernel"] == P(None, None)
    split = [n for n, s in specs.items() if "model" in s]
    # 2 layers x (q, k, v kernels and biases, out kernel, lin1 kernel and bias, lin2
    # kernel) = 20 parameters, each with two moments.
    assert len(split) == 3 * 20


def test_fsdp_takes_an_axis_the_model_axis_left():
    specs = specs_by_name(parallel.state_shardings(transformer_state(), abstract(fsdp=2, model=2)))
    layer = "params/encoder/layers/0/"
    assert specs[layer + "attention/q_lin/kernel"] == P("fsdp", "model")
    assert specs[layer + "ffn/lin2/kernel"] == P("model", "fsdp")
    assert specs[layer + "ffn/lin1/bias"] == P("model")  # no axis left for fsdp
    assert specs[layer + "attention/out_lin/bias"] == P("fsdp")
    assert specs["params/encoder/embeddings/word_embeddings/embedding"] == P("fsdp", None)


def test_without_a_model_axis_the_rules_change_nothing():
    state = transformer_state()
    for axes in ({"data": 2}, {"fsdp": 2}, {"data": 2, "fsdp": 2}):
        specs = specs_by_name(parallel.state_shardings(state, abstract(**axes)))
        assert not any("model" in s for s in specs.values()), axes
        assert specs["params/encoder/layers/0/ffn/lin1/kernel"] == parallel.fsdp_spec(
            (16, 32), axes.get("fsdp", 1)
        )


def test_heads_must_split_evenly_over_model():
    state = transformer_state(n_heads=2)  # dim 16 splits 4 ways, 2 heads do not
    with pytest.raises(ValueError, match=r"n_heads is 2 .*expected a multiple of .*model=4"):
        parallel.state_shardings(state, abstract(model=4))
    model = DistilBertClassifier(
        TransformerConfig(vocab_size=32, dim=12, n_layers=1, n_heads=3, hidden_dim=8),
        rngs=nnx.Rngs(0),
    )
    with pytest.raises(ValueError, match="n_heads is 3"):
        parallel.check_heads(model, abstract(model=2))
    parallel.check_heads(model, abstract(model=3))


def test_a_split_axis_must_divide():
    with pytest.raises(ValueError, match=r"ffn/lin1/kernel has shape \(16, 30\).*multiple of 4"):
        leaf_spec("ffn/lin1/kernel", (16, 30), abstract(model=4), TRANSFORMER_RULES)
    with pytest.raises(ValueError, match="expected at least 2 axes"):
        leaf_spec("ffn/lin1/kernel", (16,), abstract(model=2), TRANSFORMER_RULES)


def test_stacked_leaves_keep_their_leading_axis_whole():
    spec = leaf_spec("layers/ffn/lin1/kernel", (3, 16, 32), abstract(model=2), TRANSFORMER_RULES)
    assert spec == P(None, None, "model")


def test_own_rules_for_own_model_and_a_model_axis_that_would_do_nothing():
    tree = {"mlp": {"up": jnp.zeros((8, 16)), "down": jnp.zeros((16, 8))}}
    rules = ((r"mlp/up$", P(None, "model")), (r"mlp/down$", P("model", None)))
    mesh = abstract(data=2, model=2)
    specs = tensor_specs(tree, mesh, rules)
    assert specs == {"mlp": {"up": P(None, "model"), "down": P("model", None)}}
    assert parallel.state_shardings(tree, mesh, rules=rules)["mlp"]["up"].spec == specs["mlp"]["up"]
    with pytest.raises(ValueError, match="model=2, but no leaf of the state matches"):
        parallel.state_shardings(tree, mesh)  # the transformer rules match nothing here
    with pytest.raises(ValueError, match=r"rules\[0\] is"):
        parallel.state_shardings(tree, mesh, rules=[("mlp/up", ("model",))])


def test_model_is_a_mesh_axis_but_not_a_batch_axis():
    assert parallel.parse_mesh("data=2,model=4") == {"data": 2, "model": 4}
    assert "model" in parallel.AXES
    mesh = parallel.make_mesh("model=1")
    assert parallel.batch_axes(mesh) == ()
    assert parallel.batch_sharding(mesh).spec == P(None)
    assert parallel.batch_divisor(mesh) == 1


class _Mlp(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.up, self.down = nnx.Linear(4, 8, rngs=rngs), nnx.Linear(8, 2, rngs=rngs)

    def __call__(self, x, *, train=False, key=None):
        return self.down(jax.nn.relu(self.up(x)))


def test_fit_places_the_state_by_its_tensor_rules(monkeypatch):
    from jaxdl.training import classifier_loss, fit

    placed = []  # on one device XLA's outputs forget the spec: read what the engine placed
    real_place = parallel.place

    def place(tree, shardings):
        placed.append(shardings)
        return real_place(tree, shardings)

    monkeypatch.setattr(parallel, "place", place)

    state = TrainState.create(_Mlp(nnx.Rngs(0)), optax.adam(1e-2), key=jax.random.key(0))
    data = {"image": jnp.ones((8, 4)), "label": jnp.zeros((8,), jnp.int32)}
    rules = ((r"up/kernel$", P(None, "model")), (r"down/kernel$", P("model", None)))
    fit(
        state,
        data,
        loss_fn=classifier_loss,
        num_epochs=1,
        batch_size=4,
        data_key=jax.random.key(1),
        progress=False,
        mesh=parallel.make_mesh("model=1"),
        tensor_rules=rules,
    )
    specs = specs_by_name(placed[0])
    assert specs["params/up/kernel"] == P(None, "model")
    assert specs["opt_state/0/mu/down/kernel"] == P("model", None)
    assert specs["params/up/bias"] == P(None)


def test_a_stack_of_runs_splits_over_runs_then_model():
    state = transformer_state()
    stack = jax.tree.map(lambda x: jnp.stack([x, x]), state)  # 2 runs
    specs = specs_by_name(parallel.state_shardings(stack, abstract(runs=2, model=2), vmapped=True))
    assert specs["params/encoder/layers/0/attention/q_lin/kernel"] == P("runs", None, "model")
    assert specs["opt_state/0/mu/encoder/layers/0/ffn/lin2/kernel"] == P("runs", "model", None)
    assert specs["params/encoder/layers/0/attention/out_lin/bias"] == P("runs", None)
