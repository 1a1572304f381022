"""Fashion-MNIST training throughput: the jaxdl recipe against the seed's PyTorch loop.

The two benchmark modules (``fashion_mnist_mlp``, ``fashion_mnist_cnn``) differ only in
the config and in the ``nn.Sequential`` they build; everything else lives here so both
sides are set up, timed and checked the same way.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from benchmarks import _harness
from jaxdl.data import (
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    load_fashion_mnist,
    with_normalized_images,
)
from jaxdl.training import (
    Permuted,
    TrainState,
    classifier_eval,
    classifier_loss,
    make_chunk,
    make_evaluator,
)
from train.fashion_mnist import train as recipe

METRIC = "training examples/s"
UNIT = "examples/s"
EVAL_BATCH = 1000
# quick=True: enough steps to exercise every code path, small enough for a unit test.
QUICK = {"train_examples": 2048, "test_examples": 1000, "batch_size": 256, "repeats": 1}

TorchModelFn = Callable[[ml_collections.ConfigDict], Any]
INPUT_SHAPE = (28, 28, 1)


def load(split: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(N, 28, 28)`` and int32 labels; the first ``limit`` if ``limit``."""
    images, labels = load_fashion_mnist(split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return images, labels


class JaxdlSide:
    """The recipe as ``fit`` runs it: data on the device, one compiled scan per epoch."""

    def __init__(self, config: ml_collections.ConfigDict, images: np.ndarray, labels: np.ndarray):
        model_key, state_key, self.data_key = jax.random.split(jax.random.key(config.seed), 3)
        self.n, self.batch_size = len(labels), config.batch_size
        self.steps = self.n // self.batch_size
        # From the recipe's config fields; the parameter count is checked against torch.
        model = recipe.build_model(config, key=model_key)
        tx = recipe.build_optimizer(config, self.steps)
        self.state = TrainState.create(model, tx, key=state_key)
        self.num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(self.state.params))
        loss_fn = with_normalized_images(
            functools.partial(classifier_loss, label_smoothing=config.label_smoothing)
        )
        self.data = {"image": jnp.asarray(images), "label": jnp.asarray(labels, jnp.int32)}
        self.source = Permuted(self.data, self.batch_size, self.data_key)
        self.run_chunk = make_chunk(loss_fn, self.source)
        self.epochs = 0
        self.bad_steps: list[jax.Array] = []
        self.last_sums: dict[str, jax.Array] = {}

    def epoch(self) -> tuple[Any, ...]:
        """One epoch; returns the (unfinished) arrays so the timer can block on them."""
        self.epochs += 1
        # Drawing the permutation is part of an epoch, as the DataLoader's shuffle is.
        order = self.source.inputs(self.epochs, 0, self.steps)
        self.state, _, sums, bad = self.run_chunk(self.state, self.data, order, self.steps)
        self.bad_steps.append(bad)
        self.last_sums = sums
        return self.state, sums, bad

    def step_cost(self) -> dict[str, float]:
        """XLA's cost of one training step: the chunk compiled for one step, whose loop
        runs once (so XLA counting its body once is right)."""
        order = self.source.inputs(1, 0, 1)
        return _harness.step_cost(
            self.run_chunk, self.state, self.data, order, 1, single_trip_loops=True
        )

    def check_finite(self) -> None:
        """Raises if any step diverged: a throughput of a NaN run would mean nothing."""
        bad = [int(b) for b in self.bad_steps]
        if any(b >= 0 for b in bad):
            raise RuntimeError(f"jaxdl training produced non-finite values (bad steps {bad}).")

    def train_loss(self) -> float:
        """Mean training loss of the last epoch."""
        return float(self.last_sums["loss"]) / self.steps

    def test_accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        evaluate = make_evaluator(with_normalized_images(classifier_eval), EVAL_BATCH)
        data = {"image": jnp.asarray(images), "label": jnp.asarray(labels, jnp.int32)}
        return float(evaluate(self.state, data)["accuracy"])


def torch_classifier_head(in_features: int, config: ml_collections.ConfigDict) -> list[Any]:
    """``Linear -> ReLU -> Dropout`` per ``config.hidden`` width, then the 10-way head."""
    from torch import nn

    widths = [in_features, *config.hidden]
    layers: list[Any] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(config.dropout)]
    return [*layers, nn.Linear(widths[-1], 10)]


def to_torch_images(images: np.ndarray):
    """uint8 ``(N, 28, 28)`` to float ``(N, 1, 28, 28)`` normalised like jaxdl's ``normalize``."""
    import torch

    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return ((x - FASHION_MNIST_MEAN) / FASHION_MNIST_STD).unsqueeze(1)


class TorchSide:
    """The seed's way: preloaded tensors, a shuffling DataLoader, a plain Python loop."""

    def __init__(
        self,
        model: Any,
        config: ml_collections.ConfigDict,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        progress: bool | None,
    ):
        import torch
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset

        self.model = model
        self.num_params = sum(p.numel() for p in model.parameters())
        dataset = TensorDataset(to_torch_images(images), torch.from_numpy(labels).long())
        generator = torch.Generator().manual_seed(config.seed)
        # num_workers=0 as in the seed; worker processes would fight over the same cores.
        self.loader = DataLoader(
            dataset,
            batch_size=config.batch_size,
            shuffle=True,
            drop_last=True,
            generator=generator,
        )
        self.optimizer = _torch_optimizer(config, model.parameters())
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        # disable=None lets tqdm turn the bar off when stderr is not a terminal (logs, CI).
        self.disable_bar = None if progress is None else not progress
        self.last_loss = float("nan")

    def epoch(self) -> None:
        from tqdm.auto import tqdm

        self.model.train()
        total = 0.0
        # tqdm costs microseconds per step against milliseconds of work: kept for fidelity.
        for x, y in tqdm(self.loader, leave=False, disable=self.disable_bar):
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        self.last_loss = total / len(self.loader)

    def test_accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        loader = DataLoader(
            TensorDataset(to_torch_images(images), torch.from_numpy(labels).long()),
            batch_size=EVAL_BATCH,
        )
        self.model.eval()
        correct = count = 0
        with torch.no_grad():
            for x, y in loader:
                correct += int((self.model(x).argmax(dim=1) == y).sum())
                count += len(y)
        return correct / count


def _torch_optimizer(config: ml_collections.ConfigDict, params: Any) -> Any:
    """The recipe's optimiser family at its peak learning rate (no schedule, as the seed)."""
    import torch

    lr = config.learning_rate
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"config.optimizer is {config.optimizer!r}, expected adamw, adam or sgd.")


def run(
    name: str,
    config: ml_collections.ConfigDict,
    torch_model_fn: TorchModelFn,
    *,
    batch_size: int = 1024,
    repeats: int = 3,
    train_examples: int = 0,
    quick: bool = False,
    test_examples: int = 0,
) -> dict[str, Any]:
    """Times both sides epoch by epoch, interleaved, and returns the result record.

    Writes nothing: the caller (``benchmarks.run``) decides where records go.
    """
    import torch

    # Other work on a shared machine slows both sides, PyTorch's OpenMP threads far more
    # than XLA's pool when cores are oversubscribed: keep the load seen before starting.
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if quick:
        batch_size, repeats = QUICK["batch_size"], QUICK["repeats"]
        train_examples, test_examples = QUICK["train_examples"], QUICK["test_examples"]
    config = ml_collections.ConfigDict(config.to_dict())
    config.batch_size = batch_size
    _harness.set_threads()
    torch.manual_seed(config.seed)

    train_x, train_y = load("train", train_examples)
    test_x, test_y = load("test", test_examples)
    if len(train_y) < batch_size:
        raise ValueError(f"batch_size is {batch_size}, expected at most {len(train_y)} examples.")

    jx = JaxdlSide(config, train_x, train_y)
    th = TorchSide(
        torch_model_fn(config), config, train_x, train_y, progress=False if quick else None
    )
    if jx.num_params != th.num_params:
        raise AssertionError(
            f"jaxdl has {jx.num_params} parameters and the torch baseline {th.num_params}; "
            "the baseline no longer mirrors the recipe's model."
        )
    if len(th.loader) != jx.steps:
        raise AssertionError(f"steps per epoch differ: jaxdl {jx.steps}, torch {len(th.loader)}.")
    examples = jx.steps * batch_size

    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": jx.epoch, "baseline": th.epoch}, warmup=1, repeats=repeats
        )
    jx.check_finite()
    jaxdl_rate = examples / _harness.median(times["jaxdl"])
    torch_rate = examples / _harness.median(times["baseline"])
    extra = {
        "batch_size": batch_size,
        "examples_per_epoch": examples,
        "steps_per_epoch": jx.steps,
        "warmup_epochs": 1,
        "repeats": repeats,
        "epoch_seconds": {"jaxdl": times["jaxdl"], "baseline": times["baseline"]},
        "num_params": {"jaxdl": jx.num_params, "baseline": th.num_params},
        "model": config.model,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        # A sanity check that both sides really trained, not a claim about either.
        "sanity": {
            "epochs_trained": 1 + repeats,
            "test_examples": len(test_y),
            "train_loss_last_epoch": {"jaxdl": jx.train_loss(), "baseline": th.last_loss},
            "test_accuracy": {
                "jaxdl": jx.test_accuracy(test_x, test_y),
                "baseline": th.test_accuracy(test_x, test_y),
            },
        },
        "flops": _harness.flops_record(jx.step_cost(), jx.steps, _harness.median(times["jaxdl"])),
        "quick": quick,
        "load_average_before": load_before,
        # Cores used by other processes while timing: near 0 for a clean run.
        "other_cpu_load": other.cores,
    }
    record = _harness.result_record(name, METRIC, jaxdl_rate, torch_rate, UNIT, extra)
    # Other batch sizes are kept beside the default run instead of replacing it.
    record["result_file"] = name if batch_size == 1024 else f"{name}_b{batch_size}"
    return record
