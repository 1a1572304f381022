"""Multi-device scenarios, run in a subprocess with 8 simulated CPU devices.

``python -m tests.parallel.scenarios NAME...`` prints one JSON object with each named
scenario's findings; the tests in this folder assert on them. A subprocess, because the
device count is fixed when JAX starts and the rest of the suite runs on one device.
"""

from __future__ import annotations

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxdl import parallel
from jaxdl.nn import CNNClassifier, DistilBertClassifier, TransformerConfig
from jaxdl.training import TrainState, classifier_loss, fit

# 20 steps in all: 4 epochs of 5 steps, so each run has a 4-point loss curve.
EPOCHS, STEPS_PER_EPOCH, BATCH = 4, 5, 32
N = STEPS_PER_EPOCH * BATCH


def classifier_data(n: int = N, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.int32)
    images = rng.normal(size=(n, 16, 16, 1)).astype(np.float32)
    for i, c in enumerate(labels):
        images[i, c : c + 3, 2:14] += 2.0
    return {"image": images, "label": labels}


def classifier_state(precision: str = "float32") -> TrainState:
    model = CNNClassifier(
        (16, 16, 1),
        channels=(8, 16),
        hidden=(32,),
        dropout=0.1,
        dtype=parallel.compute_dtype(precision),
        rngs=nnx.Rngs(0),
    )
    return TrainState.create(model, optax.adam(1e-3), key=jax.random.key(1))


def text_data(n: int = N, seed: int = 0, seq: int = 16, vocab: int = 64):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, (n, seq)).astype(np.int32)
    labels = (ids[:, 0] > vocab // 2).astype(np.int32)
    return {"image": ids, "label": labels}


def text_state(
    n_layers: int = 2, remat: str = "off", seq: int = 16, dropout: float = 0.1
) -> TrainState:
    cfg = TransformerConfig(
        vocab_size=64,
        dim=32,
        n_layers=n_layers,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=seq,
        dropout=dropout,
        attention_dropout=dropout,
        classifier_dropout=dropout,
        remat=parallel.remat_policy(remat),
    )
    model = DistilBertClassifier(cfg, rngs=nnx.Rngs(0))
    return TrainState.create(model, optax.adam(1e-3), key=jax.random.key(1))


def text_loss(model, batch, *, train, key):
    logits = model(batch["image"], train=train, key=key).astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss, {"loss": loss}


def _train(state, data, loss_fn, mesh_spec, *, accum_steps=1):
    mesh = parallel.make_mesh(mesh_spec) if mesh_spec else None
    result = fit(
        state,
        data,
        loss_fn=loss_fn,
        num_epochs=EPOCHS,
        batch_size=BATCH,
        data_key=jax.random.key(2),
        steps_per_dispatch=STEPS_PER_EPOCH,
        progress=False,
        mesh=mesh,
        accum_steps=accum_steps,
    )
    return result


def _max_diff(a, b) -> float:
    """The largest absolute difference of any parameter. Absolute, because some leaves
    are ~1e-8 by construction (attention's key bias gets no gradient: softmax ignores
    a constant added to a row), so a relative difference there is rounding noise."""
    diffs = [
        float(jnp.max(jnp.abs(x.astype(jnp.float32) - y.astype(jnp.float32))))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    ]
    return max(diffs)


def _curve(result) -> list[float]:
    return [r["train_loss"] for r in result.history]


def _params(result):
    return jax.device_get(result.state.params)


MODELS = {
    "classifier": (classifier_state, classifier_data, classifier_loss),
    # No dropout in the transformer, so that accumulation can be compared step for step.
    # One layer: a second, identical one only doubles the compile time of each mode.
    "transformer": (lambda: text_state(n_layers=1, dropout=0.0), text_data, text_loss),
}


def all_modes():
    """For each model: 1 device, 8-way data parallel, 8-way FSDP (and accumulation)."""
    out = {}
    for name, (make, data_fn, loss) in MODELS.items():
        data = data_fn()
        one = _train(make(), data, loss, "")
        dp = _train(make(), data, loss, "data=8")
        fs = _train(make(), data, loss, "fsdp=8")
        params, opt = fs.state.params, fs.state.opt_state
        out[name] = {
            "steps": int(dp.state.step),
            "dp_replicated": all(x.sharding.is_fully_replicated for x in jax.tree.leaves(dp.state)),
            "dp_vs_one_max_abs_diff": _max_diff(_params(dp), _params(one)),
            "loss_one": _curve(one),
            "loss_dp": _curve(dp),
            "loss_fsdp": _curve(fs),
            "fsdp_vs_dp_max_abs_diff": _max_diff(_params(fs), _params(dp)),
            "fsdp_fraction_per_device": {
                part: max(parallel.bytes_per_device(tree).values()) / parallel.total_bytes(tree)
                for part, tree in (("params", params), ("opt_state", opt))
            },
            "fsdp_sharded_leaves": sum(
                1 for x in jax.tree.leaves(params) if "fsdp" in str(x.sharding.spec)
            ),
            "leaves": len(jax.tree.leaves(params)),
        }
        if name == "transformer":
            micro = _train(make(), data, loss, "data=8", accum_steps=4)
            out[name]["accum_vs_whole_max_abs_diff"] = _max_diff(_params(micro), _params(dp))
    return out


SCENARIOS = {f.__name__: f for f in (all_modes,)}

if __name__ == "__main__":
    # Before the first device use: JAX creates its CPU devices then.
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=8".strip()
    names = sys.argv[1:] or list(SCENARIOS)
    print(json.dumps({n: SCENARIOS[n]() for n in names}))
