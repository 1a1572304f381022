"""Barabási–Albert graph classification with GraphNet, then GNN-LRP relevant walks."""

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

from jaxdl import parallel
from jaxdl.data.graphs import (
    NODE_FEATURES,
    GraphsTuple,
    ba_dataset,
    batch_graphs,
    graph_mask,
    graphs_tuple,
    one_hot_node_features,
    pad_graphs,
)
from jaxdl.graph import GraphNet, gcn_norm
from jaxdl.training import TrainState, train
from jaxdl.viz import figure, save_figure
from jaxdl.xai.gnn_lrp import plot_walks, top_walks, walk_relevances

from .._common import check_scale_support, open_run, setup
from ..cli_config import ConfigError

ADJACENCIES = ("sum", "gcn")
#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "GraphNet trains in float32",
    "remat": "GraphNet has no checkpointed blocks",
    "accum_steps": "a padded batch of graphs cannot be cut into micro-batches",
    "processes": "the batches are padded and the walks explained on one host",
}


def prepare(graph: GraphsTuple, config: ml_collections.ConfigDict) -> GraphsTuple:
    """Input features, self-loops (``A + I``) and, for ``"gcn"``, normalised weights."""
    x = one_hot_node_features(graph, kind=config.features, width=config.max_nodes)
    adjacency = config.adjacency
    g = graphs_tuple(x, graph.senders, graph.receivers, self_loops=True)
    if adjacency == "gcn":
        edge_coef, _ = gcn_norm(g, add_self_loops=False)
        g = g._replace(edges=np.asarray(edge_coef))
    return g


def budgets(config: ml_collections.ConfigDict) -> dict[str, int]:
    """Node, edge and graph budgets that fit any batch of the configured graphs."""
    m = max(config.growths)
    edges = 2 * m * (config.max_nodes - m) + config.max_nodes  # both directions + loops
    return {
        "n_node": config.batch_size * config.max_nodes + 1,
        "n_edge": config.batch_size * edges,
        "n_graph": config.batch_size + 1,
    }


def stack_batches(
    graphs: list[GraphsTuple], labels: np.ndarray, order: np.ndarray, config, *, drop_last: bool
) -> tuple[GraphsTuple, np.ndarray]:
    """Padded batches stacked on a leading axis: ``(num_batches, ...)`` leaves.

    Every batch has the same shapes, so one compiled scan runs them all. Labels of
    padding graphs are 0; :func:`jaxdl.data.graphs.graph_mask` excludes them.
    """
    b = config.batch_size
    stop = len(order) - len(order) % b if drop_last else len(order)
    padded, padded_labels = [], []
    for start in range(0, stop, b):
        idx = order[start : start + b]
        padded.append(pad_graphs(batch_graphs([graphs[i] for i in idx]), **budgets(config)))
        lab = np.zeros(b + 1, np.int32)
        lab[: len(idx)] = labels[idx]
        padded_labels.append(lab)
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *padded)
    return stacked, np.stack(padded_labels)


def masked_loss_and_hits(logits: jax.Array, labels: jax.Array, graph: GraphsTuple):
    mask = graph_mask(graph)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    hits = (jnp.argmax(logits, -1) == labels) & mask
    return jnp.sum(jnp.where(mask, ce, 0.0)), jnp.sum(hits), jnp.sum(mask)


def make_loss():
    """The masked mean cross-entropy of a padded batch of graphs, and its accuracy."""

    def loss_fn(model, batch, *, train, key):
        del train, key  # no dropout
        total, hits, count = masked_loss_and_hits(
            model(batch["graph"]), batch["label"], batch["graph"]
        )
        return total / count, {"loss": total / count, "accuracy": hits / count}

    return loss_fn


def make_evaluator(test_graphs: GraphsTuple, test_labels: np.ndarray):
    """``evaluate(state) -> ({"loss", "accuracy"}, logits)`` over the stacked test batches;
    logits are ``(num_batches, graphs per batch, classes)``."""

    @jax.jit
    def evaluate(state):
        model = state.model()

        def body(_, batch):
            logits = model(batch[0])
            return None, (masked_loss_and_hits(logits, batch[1], batch[0]), logits)

        _, ((total, hits, count), logits) = jax.lax.scan(body, None, (test_graphs, test_labels))
        n = jnp.sum(count)
        return {"loss": jnp.sum(total) / n, "accuracy": jnp.sum(hits) / n}, logits

    return evaluate


@dataclasses.dataclass
class PaddedGraphBatches:
    """Training graphs in a fresh order each epoch, padded and stacked on the host.

    The order comes from one NumPy generator seeded by the data key, drawn epoch after
    epoch (the recipe's scheme since its first version); a run resumed at epoch ``e``
    draws (and drops) the orders of epochs ``1 .. e-1`` first, so it sees the same
    batches. Every batch is padded to the same budgets, so one compiled scan runs the
    whole epoch. With a ``mesh`` the batches are replicated on its devices.
    """

    graphs: list[GraphsTuple]
    labels: np.ndarray
    train_idx: np.ndarray
    config: ml_collections.ConfigDict
    rng: np.random.Generator
    mesh: Any = None
    data = None
    batch_sharding = None

    def __post_init__(self):
        self.steps_per_epoch = len(self.train_idx) // self.config.batch_size
        self._epoch: tuple[int, Any] | None = None
        self._drawn = 0  # epochs whose order the generator has produced

    def inputs(self, epoch, start, stop):
        if self._epoch is None or self._epoch[0] != epoch:
            while self._drawn < epoch - 1:  # a resumed run catches the generator up
                self.rng.permutation(self.train_idx)
                self._drawn += 1
            order = self.rng.permutation(self.train_idx)
            self._drawn += 1
            stacked = stack_batches(self.graphs, self.labels, order, self.config, drop_last=True)
            self._epoch = (epoch, stacked)
        chunk = jax.tree.map(lambda x: x[start:stop], self._epoch[1])
        if self.mesh is None:
            return jax.tree.map(jnp.asarray, chunk)
        return parallel.place(chunk, jax.tree.map(lambda _: parallel.replicated(self.mesh), chunk))

    def scan_inputs(self, state, data, inputs, length):
        return inputs

    def batch(self, state, data, x):
        return {"graph": x[0], "label": x[1]}


def validate(config: ml_collections.ConfigDict) -> None:
    if config.features not in NODE_FEATURES:
        raise ConfigError(
            f"config.features is {config.features!r}, expected 'identity' or 'degree'."
        )
    if config.adjacency not in ADJACENCIES:
        raise ConfigError(f"config.adjacency is {config.adjacency!r}, expected 'sum' or 'gcn'.")
    if config.num_train < config.batch_size:
        raise ConfigError(
            f"config.batch_size is {config.batch_size}, expected at most num_train="
            f"{config.num_train}."
        )
    if not 1 <= max(config.growths) < config.min_nodes <= config.max_nodes:
        raise ConfigError(
            f"config.min_nodes={config.min_nodes}, max_nodes={config.max_nodes}, growths="
            f"{tuple(config.growths)}: expected max(growths) < min_nodes <= max_nodes."
        )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains the GraphNet, evaluates, explains two test graphs; writes ``workdir``."""
    validate(config)
    check_scale_support(config, UNSUPPORTED)
    mesh = setup(config)
    with open_run(config, workdir, "gnn_lrp") as run:
        raw, labels = ba_dataset(
            config.num_train + config.num_test,
            min_nodes=config.min_nodes,
            max_nodes=config.max_nodes,
            growths=tuple(config.growths),
            seed=config.seed,
        )
        data = [prepare(g, config) for g in raw]
        train_idx = np.arange(config.num_train)
        test_idx = np.arange(config.num_train, len(data))
        test_graphs, test_labels = stack_batches(data, labels, test_idx, config, drop_last=False)

        model_key, data_key = jax.random.split(jax.random.key(config.seed))
        model = GraphNet(
            config.max_nodes,
            config.hidden,
            len(config.growths),
            output_relu=config.output_relu,
            rngs=nnx.Rngs(params=model_key),
        )
        state = TrainState.create(model, optax.adam(config.learning_rate), key=data_key)
        rng = np.random.default_rng(np.asarray(jax.random.key_data(data_key)).ravel())
        evaluate = make_evaluator(test_graphs, test_labels)
        result = train(
            state,
            PaddedGraphBatches(data, labels, train_idx, config, rng, mesh),
            loss_fn=make_loss(),
            mesh=mesh,
            num_epochs=config.num_epochs,
            run=run,
            evaluate=lambda s: evaluate(s)[0],
            checkpoint_every=config.num_epochs,
            progress=config.progress,
            desc="gnn_lrp",
        )
        last = result.metrics
        _, test_logits = evaluate(result.state)
        model = result.state.model()
        # Batches hold batch_size real graph slots then the padding graph; test order is kept.
        scores = np.asarray(test_logits)[:, : config.batch_size].reshape(-1, len(config.growths))
        explained = explain(
            model, data, labels, test_idx, scores[: len(test_idx)], config, run.path("walks.png")
        )
        metrics = {
            "test_accuracy": last["test_accuracy"],
            "test_loss": last["test_loss"],
            "train_accuracy": last["train_accuracy"],
            "conservation_max_rel_error": max((e["rel_error"] for e in explained), default=None),
        }
        summary = run.finish(metrics, epochs=config.num_epochs, explained=explained)
    # The trained model is returned for notebooks; the CLI prints only the metrics.
    return {**summary, "model": model}


def explain(
    model: GraphNet,
    data: list[GraphsTuple],
    labels: np.ndarray,
    test_idx: np.ndarray,
    test_scores: np.ndarray,
    config: ml_collections.ConfigDict,
    path: Path | None,
) -> list[dict[str, Any]]:
    """Walk relevances of the first correctly classified test graph of each class.

    ``test_scores[t]`` are the model's outputs for graph ``test_idx[t]``.
    """
    explained = []
    correct = np.argmax(test_scores, -1) == labels[test_idx]
    for c, growth in enumerate(config.growths):
        hits = np.flatnonzero(correct & (labels[test_idx] == c))
        if not len(hits):
            continue  # no correct graph of this class (possible in quick runs)
        i = int(test_idx[hits[0]])
        r = walk_relevances(model, data[i], c, gamma=config.gamma)
        total, y = float(jnp.sum(r)), float(test_scores[hits[0], c])
        explained.append(
            {
                "graph": int(i),
                "growth": int(growth),
                "num_nodes": int(data[i].n_node[0]),
                "output": y,
                "relevance_sum": total,
                "rel_error": abs(total - y) / max(abs(y), 1e-12),
                "top_walks": top_walks(r, config.num_walks),
                "_relevances": r,
            }
        )
    if explained and path is not None:
        fig, axes = figure(1, len(explained), figsize=(5 * len(explained), 5), squeeze=False)
        for ax, e in zip(axes[0], explained, strict=True):
            plot_walks(
                data[e["graph"]],
                e.pop("_relevances"),
                num_walks=config.num_walks,
                ax=ax,
                title=f"growth {e['growth']}: top {config.num_walks} walks "
                f"(sum R = {e['relevance_sum']:.3f}, y = {e['output']:.3f})",
            )
        save_figure(fig, path)
    for e in explained:
        e.pop("_relevances", None)  # arrays: not for summary.json
    return explained
