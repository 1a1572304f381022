"""Karate club node classification: a GCN per seed, all seeds in one vmapped, scanned run.

``--config.mesh=runs=8`` splits the seeds over 8 devices (``num_seeds`` a multiple of
the ``runs`` size), equal to one device's up to float rounding; ``--config.mesh=data=2``
replicates the seeds on both devices (the whole graph is every step's batch, so there
is no batch to split).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from jaxdl.data.graphs import GraphsTuple, karate_club
from jaxdl.graph import GCN
from jaxdl.parallel import check_num_runs, replicated
from jaxdl.training import FullBatch, TrainState, train
from jaxdl.viz import figure, save_figure

from .. import _common
from .._common import open_run
from ..cli_config import ConfigError


def build_model(
    config: ml_collections.ConfigDict, in_features: int, *, key: jax.Array | None
) -> GCN:
    rngs = nnx.Rngs(params=jax.random.key(0) if key is None else key)
    return GCN(in_features, tuple(config.hidden), 2, dropout=config.dropout, rngs=rngs)


@dataclasses.dataclass
class SeedKeys(FullBatch):
    """The whole graph every step, with the step's dropout key in the batch.

    Step ``s`` of a run uses ``split(state.key, num_steps)[s]``, the recipe's key scheme
    since its first version, so results stay comparable across versions.
    """

    num_steps: int = 0

    def scan_inputs(self, state, data, inputs, length):
        keys = jax.random.split(state.key, self.num_steps)
        return jax.lax.dynamic_slice_in_dim(keys, state.step, length)

    def batch(self, state, data, x):
        return {**data, "key": x}


def make_loss(labels: jax.Array, train_mask: jax.Array):
    """Masked cross-entropy over the labelled nodes, and their accuracy."""

    def loss_fn(model, batch, *, train, key):
        del key  # the step's key travels in the batch (SeedKeys)
        logits = model(batch["graph"], train=train, key=batch["key"])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        loss = jnp.sum(jnp.where(train_mask, ce, 0.0)) / jnp.sum(train_mask)
        return loss, {"loss": loss, "accuracy": masked_accuracy(logits, labels, train_mask)}

    return loss_fn


def masked_accuracy(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    hit = (jnp.argmax(logits, -1) == labels) & mask
    return jnp.sum(hit) / jnp.sum(mask)


def init_states(config: ml_collections.ConfigDict, in_features: int) -> TrainState:
    """One train state per seed, stacked: seed ``i`` splits its key into init and steps."""
    tx = optax.chain(
        optax.add_decayed_weights(config.weight_decay), optax.adam(config.learning_rate)
    )

    def one(key):
        init_key, step_key = jax.random.split(key)
        return TrainState.create(build_model(config, in_features, key=init_key), tx, key=step_key)

    # One compiled program: vmap outside jit would compile every init op on its own.
    keys = jax.random.split(jax.random.key(config.seed), config.num_seeds)
    return jax.jit(jax.vmap(one))(keys)


def validate(config: ml_collections.ConfigDict, num_nodes: int) -> None:
    labelled = list(config.labelled)
    if not labelled or any(not 0 <= i < num_nodes for i in labelled):
        raise ConfigError(
            f"config.labelled is {tuple(labelled)}, expected node ids in [0, {num_nodes})."
        )
    for name in ("num_steps", "num_seeds", "log_every"):
        if config[name] < 1:
            raise ConfigError(f"config.{name} is {config[name]}, expected at least 1.")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains ``num_seeds`` GCNs at once, writes metrics, plots and summary to ``workdir``."""
    mesh = _common.setup(config)
    with open_run(config, workdir, "gcn_karate", x="step") as run:
        graph, labels_np = karate_club()
        validate(config, len(labels_np))
        if mesh is not None:
            check_num_runs(config.num_seeds, mesh, name="config.num_seeds")
            graph = jax.device_put(graph, replicated(mesh))  # shared by every seed
        labels = jnp.asarray(labels_np)
        train_mask = np.zeros(len(labels_np), bool)
        train_mask[list(config.labelled)] = True
        train_mask = jnp.asarray(train_mask)

        @jax.jit
        @jax.vmap
        def evaluate(state):
            logits = state.model()(graph)
            return {"accuracy": masked_accuracy(logits, labels, ~train_mask)}

        @jax.jit
        def seed0_predictions(states):
            return jnp.argmax(jax.tree.map(lambda x: x[0], states).model()(graph), -1)

        source = SeedKeys({"graph": graph}, config.log_every, num_steps=config.num_steps)
        result = train(
            init_states(config, graph.nodes.shape[1]),
            source,
            loss_fn=make_loss(labels, train_mask),
            num_epochs=-(-config.num_steps // config.log_every),
            num_steps=config.num_steps,
            run=run,
            evaluate=evaluate,
            vmapped=True,
            mesh=mesh,
            keep_step_metrics=True,
            checkpoint_every=config.num_steps,
            progress=False,
        )
        per_seed = [float(a) for a in jax.device_get(evaluate(result.state)["accuracy"])]
        predictions = np.asarray(seed0_predictions(result.state))
        if run.path("graph.png") is not None:
            plot_predictions(
                graph, labels_np, predictions, list(config.labelled), run.path("graph.png")
            )
        final = {
            "test_accuracy": float(np.mean(per_seed)),
            "test_accuracy_std": float(np.std(per_seed)),
            "test_accuracy_min": float(np.min(per_seed)),
            "train_loss": float(np.mean(result.step_metrics["loss"][:, -1])),
        }
        return run.finish(
            final,
            test_accuracy_per_seed=per_seed,
            num_test_nodes=int(len(labels_np) - len(config.labelled)),
        )


def plot_predictions(
    graph: GraphsTuple,
    labels: np.ndarray,
    predictions: np.ndarray,
    labelled: list[int],
    path: Path,
) -> Path:
    """The club graph coloured by prediction; wrong nodes ringed red, labelled ones squared."""
    import networkx as nx

    g = nx.Graph(zip(graph.senders.tolist(), graph.receivers.tolist(), strict=True))
    pos = nx.spring_layout(g, seed=0)
    fig, ax = figure(figsize=(6, 5))
    nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.3)
    colors = np.where(predictions == 1, "tab:orange", "tab:blue")
    wrong = predictions != labels
    nodes = sorted(g.nodes)
    nx.draw_networkx_nodes(
        g,
        pos,
        nodelist=nodes,
        node_color=colors[nodes],
        ax=ax,
        node_size=180,
        edgecolors=["red" if wrong[i] else "black" for i in nodes],
        linewidths=[2.5 if wrong[i] else 0.5 for i in nodes],
    )
    nx.draw_networkx_nodes(
        g,
        pos,
        nodelist=labelled,
        node_shape="s",
        node_size=260,
        node_color=colors[labelled],
        edgecolors="black",
        ax=ax,
    )
    nx.draw_networkx_labels(g, pos, font_size=7, ax=ax)
    ax.set_title(f"GCN predictions, seed 0 ({int(wrong.sum())} wrong; squares are labelled)")
    ax.axis("off")
    return save_figure(fig, path)
