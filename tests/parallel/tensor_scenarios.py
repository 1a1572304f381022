"""Tensor-parallel scenarios, run in a subprocess with 2 (or 4) simulated CPU devices.

``python -m tests.parallel.tensor_scenarios NAME...`` prints one JSON object with each
named scenario's findings; ``test_tensor_parallel.py`` asserts on them. The recipes run
as users run them (``train_and_evaluate`` with ``--config.mesh``); their ``fit`` and
``place_model`` are wrapped only to read the trained state and the placed weights.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def _shards(tree, names: dict[str, str]) -> dict:
    """Per named leaf (path suffix): its shape, its first shard's shape and its spec."""
    import jax

    from jaxdl.parallel.tensor import path_name

    out = {}
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = path_name(path)
        for label, suffix in names.items():
            if name.endswith(suffix) and label not in out:
                out[label] = {
                    "path": name,
                    "shape": list(x.shape),
                    "shard": list(x.addressable_shards[0].data.shape),
                    "devices": len({s.device for s in x.addressable_shards}),
                    "spec": str(getattr(x.sharding, "spec", "one device")),
                }
    return out


LEAVES = {
    "q_kernel": "layers/0/attention/q_lin/kernel",
    "q_bias": "layers/0/attention/q_lin/bias",
    "out_kernel": "layers/0/attention/out_lin/kernel",
    "out_bias": "layers/0/attention/out_lin/bias",
    "lin1_kernel": "layers/0/ffn/lin1/kernel",
    "lin2_kernel": "layers/0/ffn/lin2/kernel",
    "embedding": "word_embeddings/embedding",
}


def name_sex(meshes=("model=2", "data=2")) -> dict:
    """The quick config on one device and on ``meshes``: curves, params, shards."""
    import jax
    import numpy as np

    import train.name_sex.train as recipe
    from train.name_sex.configs import quick

    results = {}
    real_fit = recipe.fit

    def spy(*args, **kwargs):
        results["last"] = r = real_fit(*args, **kwargs)
        return r

    recipe.fit = spy
    out = {}
    params = {}
    for mesh in ("", *meshes):
        config = quick.get_config()
        config.mesh = mesh
        with tempfile.TemporaryDirectory() as workdir:
            summary = recipe.train_and_evaluate(config, workdir)
        result = results.pop("last")
        state = result.state
        params[mesh] = jax.device_get(state.params)
        out[mesh or "one"] = {
            "train_loss": [r["train_loss"] for r in result.history],
            "test_loss": [r["test_loss"] for r in result.history],
            "test_accuracy": [r["test_accuracy"] for r in result.history],
            "final": {k: v for k, v in summary["metrics"].items() if isinstance(v, float)},
            "params": _shards(state.params, LEAVES),
            # adamw = chain(scale_by_adam, ...): the first moments of the same leaves.
            "mu": _shards(state.opt_state, {k: "mu/encoder/" + v for k, v in LEAVES.items()}),
        }
        if mesh:
            diffs = jax.tree.map(
                lambda a, b: float(np.max(np.abs(a - b))), params[mesh], params[""]
            )
            out[mesh]["max_param_diff_vs_one"] = max(jax.tree.leaves(diffs))
    return out


def explain_text() -> dict:
    """The quick config (all-MiniLM-L6-v2) on one device, ``model=2`` and ``data=2``."""
    import train.explain_text.train as recipe
    from train.explain_text.configs import quick

    placed = {}
    real_place = recipe.place_model

    def spy(model, mesh):
        placed["model"] = model = real_place(model, mesh)
        return model

    recipe.place_model = spy
    real_on_mesh = recipe._on_mesh

    def spy_texts(batch, mesh):
        batch = real_on_mesh(batch, mesh)
        ids = batch["input_ids"]
        placed["texts"] = {
            "shape": list(ids.shape),
            "shard": list(ids.addressable_shards[0].data.shape),
        }
        return batch

    recipe._on_mesh = spy_texts
    out = {}
    for mesh in ("", "model=2", "data=2"):
        config = quick.get_config()
        config.mesh = mesh
        with tempfile.TemporaryDirectory() as workdir:
            summary = recipe.train_and_evaluate(config, workdir)
        metrics = summary["metrics"]
        entry = {"metrics": {k: v for k, v in metrics.items() if k != "lrp_beats_random"}}
        if mesh:
            from flax import nnx

            entry["params"] = _shards(nnx.state(placed.pop("model")), LEAVES)
            entry["texts"] = placed.pop("texts")
        out[mesh or "one"] = entry
    return out


def collectives() -> dict:
    """The collectives XLA compiles for a 2-layer transformer's forward and train step
    under ``model=2``, from the state's shardings alone (no activation constraints)."""
    import re
    from collections import Counter

    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from jaxdl import parallel
    from jaxdl.nn import DistilBertClassifier, TransformerConfig
    from jaxdl.training import TrainState
    from jaxdl.training.step import guarded_train_step

    cfg = TransformerConfig(
        vocab_size=32,
        dim=64,
        n_layers=2,
        n_heads=4,
        hidden_dim=128,
        max_position_embeddings=16,
        dropout=0.0,
        attention_dropout=0.0,
        classifier_dropout=0.0,
    )
    model = DistilBertClassifier(cfg, rngs=nnx.Rngs(0))
    state = TrainState.create(model, optax.adamw(1e-3), key=jax.random.key(0))
    mesh = parallel.make_mesh("model=2")
    state = parallel.place(state, parallel.state_shardings(state, mesh))
    batch = {"x": jnp.ones((8, 16), jnp.int32), "y": jnp.zeros((8,), jnp.int32)}

    def loss_fn(model, batch, *, train, key):
        logits = model(batch["x"], train=train, key=key)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return loss, {"loss": loss}

    def forward(state, batch):
        return state.model()(batch["x"])

    def step(state, batch):
        return guarded_train_step(state, batch, jnp.int32(-1), loss_fn=loss_fn)

    ops = r"(all-reduce|all-gather|reduce-scatter|collective-permute|all-to-all)(?:-start)?\("
    out = {}
    for name, fn in (("forward", forward), ("train_step", step)):
        text = jax.jit(fn).lower(state, batch).compile().as_text()
        lines = [line for line in text.splitlines() if re.search(ops, line)]
        out[name] = {
            "counts": dict(Counter(re.search(ops, line).group(1) for line in lines)),
            # The all-reduces of (B, T, D) activations: the Megatron pattern's.
            "activation_all_reduces": sum("f32[8,16,64]" in line for line in lines),
        }
    return out


def name_sex_4() -> dict:
    """The quick config with ``model`` and a batch axis together, on 4 devices."""
    return name_sex(("data=2,model=2", "fsdp=2,model=2"))


SCENARIOS = {f.__name__: f for f in (name_sex, explain_text, collectives, name_sex_4)}
#: Simulated devices per scenario (a process's count is fixed when JAX starts).
DEVICES = {"name_sex_4": 4}

if __name__ == "__main__":
    # Before the first device use: JAX creates its CPU devices then.
    names = sys.argv[1:] or list(SCENARIOS)
    count = max(DEVICES.get(n, 2) for n in names)
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}"
    print(json.dumps({n: SCENARIOS[n]() for n in names}))
