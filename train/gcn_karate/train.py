"""Karate club node classification: a GCN per seed, all seeds in one vmapped, scanned run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from jaxdl.data.graphs import GraphsTuple, karate_club
from jaxdl.errors import ConfigError
from jaxdl.nn.gnn import GCN
from jaxdl.training import MetricsWriter, write_summary
from jaxdl.viz import figure, plot_curves, save_figure


def build_model(
    config: ml_collections.ConfigDict, in_features: int, *, key: jax.Array | None
) -> GCN:
    rngs = nnx.Rngs(params=jax.random.key(0) if key is None else key)
    return GCN(in_features, tuple(config.hidden), 2, dropout=config.dropout, rngs=rngs)


def make_run(
    config: ml_collections.ConfigDict,
    graph: GraphsTuple,
    labels: jax.Array,
    train_mask: jax.Array,
):
    """``run(key) -> (params, metrics)``: one seed's whole training as a ``lax.scan``.

    ``metrics`` holds per-step ``train_loss`` and ``train_accuracy`` (labelled nodes)
    and ``test_accuracy`` (all other nodes, eval mode, after the step's update).
    """
    in_features = graph.nodes.shape[1]
    # The structure only: eval_shape builds the module abstractly, without computing.
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: build_model(config, in_features, key=None)))
    tx = optax.chain(
        optax.add_decayed_weights(config.weight_decay), optax.adam(config.learning_rate)
    )
    test_mask = ~train_mask

    def accuracy(logits, mask):
        hit = (jnp.argmax(logits, -1) == labels) & mask
        return jnp.sum(hit) / jnp.sum(mask)

    def loss_fn(params, key):
        logits = nnx.merge(graphdef, params)(graph, train=True, key=key)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        return jnp.sum(jnp.where(train_mask, ce, 0.0)) / jnp.sum(train_mask), logits

    def step(carry, key):
        params, opt_state = carry
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        eval_logits = nnx.merge(graphdef, params)(graph)
        metrics = {
            "train_loss": loss,
            "train_accuracy": accuracy(logits, train_mask),
            "test_accuracy": accuracy(eval_logits, test_mask),
        }
        return (params, opt_state), metrics

    def run(key: jax.Array):
        init_key, step_key = jax.random.split(key)
        _, params = nnx.split(build_model(config, in_features, key=init_key))
        keys = jax.random.split(step_key, config.num_steps)
        (params, _), metrics = jax.lax.scan(step, (params, tx.init(params)), keys)
        return params, metrics

    return graphdef, run


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
    tic = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    graph, labels_np = karate_club()
    validate(config, len(labels_np))
    labels = jnp.asarray(labels_np)
    train_mask = np.zeros(len(labels_np), bool)
    train_mask[list(config.labelled)] = True
    graphdef, run = make_run(config, graph, labels, jnp.asarray(train_mask))

    @jax.jit
    def run_all(key):
        params, metrics = jax.vmap(run)(jax.random.split(key, config.num_seeds))
        predictions = jnp.argmax(
            nnx.merge(graphdef, jax.tree.map(lambda x: x[0], params))(graph), -1
        )
        return params, metrics, predictions

    # metrics: (seeds, steps); predictions: seed 0's, for the plot.
    _, metrics, predictions = jax.device_get(run_all(jax.random.key(config.seed)))

    writer = MetricsWriter(workdir)
    history = []
    for s in range(config.log_every - 1, config.num_steps, config.log_every):
        record = {"step": s + 1, **{k: float(np.mean(v[:, s])) for k, v in metrics.items()}}
        writer.write(record, step=s + 1)
        history.append(record)
    writer.close()
    plot_curves(history, workdir / "curves.png", x="step")

    per_seed = [float(a) for a in metrics["test_accuracy"][:, -1]]
    plot_predictions(graph, labels_np, predictions, list(config.labelled), workdir / "graph.png")
    final = {
        "test_accuracy": float(np.mean(per_seed)),
        "test_accuracy_std": float(np.std(per_seed)),
        "test_accuracy_min": float(np.min(per_seed)),
        "train_loss": float(np.mean(metrics["train_loss"][:, -1])),
    }
    wall = time.perf_counter() - tic
    write_summary(
        workdir,
        metrics=final,
        config=config.to_dict(),
        wall_time_s=wall,
        recipe="gcn_karate",
        test_accuracy_per_seed=per_seed,
        num_test_nodes=int(len(labels_np) - len(config.labelled)),
    )
    return {"metrics": final, "wall_time_s": wall, "test_accuracy_per_seed": per_seed}


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
