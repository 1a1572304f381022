"""Learning curves on Fashion-MNIST (seed 003, "Debugging ML models": bias and variance).

Each model trains on the first ``n`` examples of one fixed shuffle of the training split
for every ``n`` in ``config.sizes``: the same steps, batch size and initial parameters,
so the runs differ in the amount of data alone. The sizes share every shape (each step
draws its batch from rows ``[0, n)``, :class:`jaxdl.training.subsets.SampledSubset`), so
the engine trains them as one vmapped program; on CPU the CNNs run the sizes one after
another through one compiled program instead (``config.vmap``). The last
``config.val_examples`` of the shuffle are the validation set; the test split stays
untouched. Errors are measured every ``config.eval_every`` steps, and
:func:`jaxdl.training.diagnostics.diagnose` reads bias and variance off the curves.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from jaxdl.data import load_fashion_mnist_split, with_normalized_images
from jaxdl.nn import CNNClassifier, MLPClassifier
from jaxdl.parallel import check_num_runs, replicated
from jaxdl.training import (
    TrainState,
    classifier_eval,
    classifier_loss,
    make_chunk,
    make_evaluator,
    train,
    warmup_cosine_optimizer,
)
from jaxdl.training.diagnostics import diagnose
from jaxdl.training.subsets import (
    SampledSubset,
    check_subset_sizes,
    make_subset_evaluator,
    with_subset_sizes,
)

from .. import _common
from ..cli_config import ConfigError
from . import report

#: name -> (kind, the config field of its hidden widths, with dropout)
MODELS = {
    "mlp": ("mlp", "mlp_hidden", False),
    "mlp_dropout": ("mlp", "mlp_hidden", True),
    "mlp_small": ("mlp", "small_hidden", False),
    "cnn": ("cnn", "cnn_hidden", False),
    "cnn_dropout": ("cnn", "cnn_hidden", True),
}
TRAIN_SPLIT = 60000


def make_model(config: ml_collections.ConfigDict, name: str, *, key: jax.Array) -> nnx.Module:
    """The model ``name`` of :data:`MODELS` from the config's fields."""
    kind, hidden, with_dropout = MODELS[name]
    dropout = config.dropout if with_dropout else 0.0
    rngs = nnx.Rngs(params=key)
    if kind == "mlp":
        return MLPClassifier((28, 28, 1), hidden=config[hidden], dropout=dropout, rngs=rngs)
    return CNNClassifier(
        (28, 28, 1),
        channels=config.channels,
        hidden=config[hidden],
        dropout=dropout,
        norm=config.norm,
        rngs=rngs,
    )


def validate(config: ml_collections.ConfigDict) -> None:
    """Checks the fields numbers alone can check, before any data is read."""
    unknown = [m for m in config.models if m not in MODELS]
    if unknown or not config.models:
        raise ConfigError(
            f"config.models is {tuple(config.models)}, expected names from {sorted(MODELS)}."
        )
    available = TRAIN_SPLIT - config.val_examples
    try:
        check_subset_sizes(config.sizes, available, name="config.sizes")
    except ValueError:
        raise ConfigError(
            f"config.sizes is {list(config.sizes)}, expected strictly growing sizes in "
            f"[1, {available}] (the 60,000 training examples less config.val_examples)."
        ) from None
    for name in ("val_examples", "train_eval_examples", "num_steps", "eval_every", "batch_size"):
        if config[name] < 1:
            raise ConfigError(f"config.{name} is {config[name]}, expected at least 1.")
    if config.num_steps % config.eval_every:
        raise ConfigError(
            f"config.num_steps is {config.num_steps}, expected a multiple of "
            f"config.eval_every ({config.eval_every})."
        )
    if config.vmap not in ("auto", "on", "off"):
        raise ConfigError(f"config.vmap is {config.vmap!r}, expected 'auto', 'on' or 'off'.")


def load_splits(config: ml_collections.ConfigDict) -> dict[str, dict[str, jax.Array]]:
    """``pool`` (the first ``max(sizes)`` of a shuffle of the training split, which the
    sizes cut), ``train_eval`` (its first ``train_eval_examples``) and ``val`` (the
    shuffle's last ``val_examples``)."""
    largest = max(config.sizes)
    need = largest + config.val_examples
    data = load_fashion_mnist_split("train", data_dir=config.data_dir or None)
    order = np.random.default_rng(config.seed).permutation(int(data["label"].shape[0]))[:need]
    shuffled = {k: v[jnp.asarray(order)] for k, v in data.items()}
    pool = {k: v[:largest] for k, v in shuffled.items()}
    return {
        "pool": pool,
        "train_eval": {k: v[: config.train_eval_examples] for k, v in pool.items()},
        "val": {k: v[largest:] for k, v in shuffled.items()},
    }


@dataclasses.dataclass
class Curves:
    """One model's errors: ``train[i, j]`` / ``val[i, j]`` at evaluation ``i`` (after
    ``steps[i]`` steps) of the run on ``sizes[j]`` examples."""

    name: str
    sizes: list[int]
    steps: list[int]
    train: np.ndarray
    val: np.ndarray
    vmapped: bool
    seconds: float


def uses_vmap(config: ml_collections.ConfigDict, name: str) -> bool:
    if config.vmap != "auto":
        return config.vmap == "on"
    # Measured on the shared 2-core CPU (channels 32/64, batch 64, 7 sizes; loaded, so
    # indicative): the vmapped CNN made 4.0 run-steps/s, the sizes in turn 7.3.
    return not (MODELS[name][0] == "cnn" and jax.default_backend() == "cpu")


def train_model(config, name, splits, run, mesh) -> Curves:
    """Trains model ``name`` on every size; its errors at every evaluation."""
    tic = time.perf_counter()
    sizes = [int(n) for n in config.sizes]
    model_key, state_key = jax.random.split(jax.random.key(config.seed))
    tx = warmup_cosine_optimizer(
        "adamw",
        learning_rate=config.learning_rate,
        num_steps=config.num_steps,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
    )
    one = TrainState.create(make_model(config, name, key=model_key), tx, key=state_key)
    source = SampledSubset(splits["pool"], config.batch_size, steps_per_epoch=config.eval_every)
    loss_fn = with_normalized_images(classifier_loss)
    eval_fn = with_normalized_images(classifier_eval)
    on_train = make_subset_evaluator(eval_fn, config.eval_batch_size)
    on_val = make_evaluator(eval_fn, config.eval_batch_size)

    def errors(state, train_eval, val):
        return (
            1.0 - on_train(state, train_eval)["accuracy"],
            1.0 - on_val(state, val)["accuracy"],
        )

    vmapped = uses_vmap(config, name)
    errors = jax.jit(jax.vmap(errors, in_axes=(0, None, None)) if vmapped else errors)

    def hook(epoch, state):
        train_err, val_err = jax.device_get(errors(state, splits["train_eval"], splits["val"]))
        ns = np.atleast_1d(np.asarray(state.subset_size)).tolist()
        return {
            **{
                f"error/train/{n}": float(e)
                for n, e in zip(ns, np.atleast_1d(train_err), strict=True)
            },
            **{f"error/val/{n}": float(e) for n, e in zip(ns, np.atleast_1d(val_err), strict=True)},
        }

    common = dict(
        loss_fn=loss_fn,
        num_epochs=config.num_steps // config.eval_every,
        run=run,
        hooks=[hook],
        checkpoint_every=config.num_steps // config.eval_every,
        progress=config.progress,
        epoch_lines=config.progress,
    )
    stack = with_subset_sizes(one, sizes)
    if vmapped:
        if mesh is not None:
            check_num_runs(len(sizes), mesh, name="the number of config.sizes")
        result = train(stack, source, vmapped=True, mesh=mesh, stage=name, desc=name, **common)
        histories = [result.history]
    else:
        chunk = make_chunk(loss_fn, source)  # one compilation for every size
        histories = []
        for r, n in enumerate(sizes):
            state = jax.tree.map(lambda x, r=r: x[r], stack)
            desc = f"{name} on {n}"
            result = train(state, source, chunk_fn=chunk, stage=f"{name}_{n}", desc=desc, **common)
            histories.append(result.history)
    steps = [int(rec["step"]) for rec in histories[0]]

    def column(split: str, r: int) -> list[float]:
        history = histories[0] if vmapped else histories[r]
        return [rec[f"error/{split}/{sizes[r]}"] for rec in history]

    train_err, val_err = (
        np.array([column(split, r) for r in range(len(sizes))]).T for split in ("train", "val")
    )
    seconds = time.perf_counter() - tic
    return Curves(name, sizes, steps, train_err, val_err, vmapped, seconds)


def check_mesh(config: ml_collections.ConfigDict, mesh: Any) -> None:
    if mesh is None:
        return
    others = {k: v for k, v in mesh.shape.items() if v > 1 and k != "runs"}
    if others:
        raise ConfigError(
            f"config.mesh is {config.mesh!r}, expected only a runs axis (runs=N): the "
            "sizes are what this recipe splits over devices."
        )
    if any(not uses_vmap(config, m) for m in config.models) and mesh.shape.get("runs", 1) > 1:
        raise ConfigError(
            f"config.mesh is {config.mesh!r}, but some models train the sizes one after "
            "another (config.vmap); set --config.vmap=on to split them over devices."
        )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Trains every model on every size, writes the figure and tables, prints a
    diagnosis per model, returns the summary."""
    validate(config)
    mesh = _common.setup(config)
    check_mesh(config, mesh)
    with _common.open_run(config, workdir, "learning_curves", x="step", curves=False) as run:
        splits = load_splits(config)
        if mesh is not None:
            splits = jax.device_put(splits, replicated(mesh))
        curves = [train_model(config, name, splits, run, mesh) for name in config.models]
        diagnoses = {
            c.name: diagnose(
                c.train[-1],
                c.val[-1],
                target_error=config.target_error,
                bias_margin=config.bias_margin,
                variance_margin=config.variance_margin,
            )
            for c in curves
        }
        effects = report.effects(curves)
        text = report.markdown(curves, diagnoses, effects, config)
        print(text)
        for c in curves:
            print(f"diagnosis {c.name}: {diagnoses[c.name]}")
        if run.path("learning_curves.png") is not None:
            report.plot(curves, diagnoses, config, run.path("learning_curves.png"))
            run.path("results.md").write_text(text)
            results = report.as_json(curves, diagnoses, effects)
            run.path("results.json").write_text(json.dumps(results, indent=1))
        final = {}
        for c in curves:
            final[f"{c.name}_train_error"] = float(c.train[-1, -1])
            final[f"{c.name}_val_error"] = float(c.val[-1, -1])
        return run.finish(
            final,
            diagnosis={k: d.verdict.value for k, d in diagnoses.items()},
            effects=effects,
        )
