"""SimCLR (seed 001, "SimCLR"; seed 003, representation learning) with linear probes."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from jaxdl.data.augment import batch, compose, horizontal_flip, random_resized_crop, two_views
from jaxdl.losses import ntxent
from jaxdl.nn import CNNClassifier
from jaxdl.training import TrainState, fit, write_summary
from jaxdl.training.probe import fit_linear_probe, per_class_subset, probe_accuracy
from train.fashion_mnist.train import MEAN, STD, load_split, normalize


def build_encoder(config, key) -> CNNClassifier:
    """Conv blocks + one dense layer (the representation) + a linear projection head."""
    return CNNClassifier(
        channels=config.channels,
        hidden=(config.representation_dim,),
        num_classes=config.projection_dim,
        dropout=0.0,
        rngs=nnx.Rngs(params=key),
    )


def simclr_loss(model, batch_, *, train, key, augment, temperature):
    x = batch_["image"].astype(jnp.float32)[..., None] / 255.0
    v1, v2 = batch(two_views(augment), key, x)
    # One forward pass over both views, so BatchNorm sees them together.
    z = model((jnp.concatenate([v1, v2]) - MEAN) / STD, train=train)
    z1, z2 = jnp.split(z, 2)
    loss = ntxent(z1, z2, temperature=temperature).mean()
    return loss, {"loss": loss}


@partial(jax.jit, static_argnums=0)
def _features(graphdef, state, images):
    model = nnx.merge(graphdef, state)
    x = normalize(images)
    return jax.lax.map(lambda b: model.features(b), x.reshape(-1, 100, 28, 28, 1)).reshape(
        x.shape[0], -1
    )


def features(model, images) -> jax.Array:
    """Representations of ``images`` (uint8, a multiple of 100 of them) in eval mode."""
    n = images.shape[0] - images.shape[0] % 100
    return _features(*nnx.split(model), images[:n])


def probes(name, train_f, train_y, test_f, test_y, subset, config) -> dict[str, float]:
    full = fit_linear_probe(train_f, train_y, num_classes=10, num_steps=config.probe_steps)
    few = fit_linear_probe(
        train_f[subset], train_y[subset], num_classes=10, num_steps=config.probe_steps
    )
    return {
        f"{name}_probe_all_labels": probe_accuracy(full, test_f, test_y),
        f"{name}_probe_{config.probe_labels_per_class}_per_class": probe_accuracy(
            few, test_f, test_y
        ),
    }


def plot_representation(f: np.ndarray, labels: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxdl.data import CLASS_NAMES

    centred = f - f.mean(0)
    xy = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    fig, ax = plt.subplots(figsize=(6, 5))
    for c in range(10):
        m = labels == c
        ax.scatter(xy[m, 0], xy[m, 1], s=3, label=CLASS_NAMES[c])
    ax.legend(markerscale=4, fontsize=7)
    ax.set_title("SimCLR representation of the test set (PCA)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    tic = time.perf_counter()
    workdir = Path(workdir)
    train, test = load_split(config, "train"), load_split(config, "test")
    k_model, k_state, k_data, k_random, k_subset = jax.random.split(jax.random.key(config.seed), 5)
    augment = compose(partial(random_resized_crop, scale=tuple(config.crop_scale)), horizontal_flip)
    steps_per_epoch = len(train["label"]) // config.batch_size
    schedule = optax.cosine_decay_schedule(
        config.learning_rate, config.num_epochs * steps_per_epoch
    )
    state = TrainState.create(
        build_encoder(config, k_model),
        optax.adamw(schedule, weight_decay=config.weight_decay),
        key=k_state,
    )
    result = fit(
        state,
        train,
        None,
        loss_fn=partial(simclr_loss, augment=augment, temperature=config.temperature),
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        data_key=k_data,
        steps_per_dispatch=config.steps_per_dispatch,
        workdir=workdir,
        resume=config.resume,
        progress=config.progress,
    )
    n_train = len(train["label"]) - len(train["label"]) % 100
    n_test = len(test["label"]) - len(test["label"]) % 100
    train_y, test_y = train["label"][:n_train], test["label"][:n_test]
    subset = per_class_subset(train_y, config.probe_labels_per_class, key=k_subset)
    encoder = result.state.model()
    metrics: dict[str, Any] = {"train_loss": result.metrics.get("train_loss")}
    f_train, f_test = features(encoder, train["image"]), features(encoder, test["image"])
    metrics |= probes("simclr", f_train, train_y, f_test, test_y, subset, config)
    rand = build_encoder(config, k_random)
    metrics |= probes(
        "random_encoder",
        features(rand, train["image"]),
        train_y,
        features(rand, test["image"]),
        test_y,
        subset,
        config,
    )
    pix_train = train["image"][:n_train].reshape(n_train, -1) / 255.0
    pix_test = test["image"][:n_test].reshape(n_test, -1) / 255.0
    metrics |= probes("pixels", pix_train, train_y, pix_test, test_y, subset, config)
    plot_representation(np.asarray(f_test), np.asarray(test_y), workdir / "representation.png")
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=time.perf_counter() - tic,
        recipe="simclr",
    )
    return {"metrics": metrics, "wall_time_s": time.perf_counter() - tic}
