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

from jaxdl._checks import check_rank
from jaxdl.data import augment as aug
from jaxdl.data.augment import (
    batch,
    brightness_contrast,
    compose,
    elastic_transform,
    horizontal_flip,
    random_affine,
    random_apply,
    random_resized_crop,
    two_views,
)
from jaxdl.losses import ntxent
from jaxdl.nn import ReluMLP
from jaxdl.nn.cnn import ConvBlock
from jaxdl.training import TrainState, fit, write_summary
from jaxdl.training.probe import fit_linear_probe, per_class_subset, probe_accuracy
from train.cli_config import ConfigError
from train.fashion_mnist.train import MEAN, STD, load_split, normalize

READOUTS = ("avg", "avg_max")


def check_readout(readout: str) -> None:
    """One sentence for a probe readout that :meth:`SimCLRNet.representation` lacks."""
    if readout not in READOUTS:
        raise ConfigError(f"config.readout is {readout!r}, expected one of {READOUTS}.")


class SimCLRNet(nnx.Module):
    """A conv encoder and SimCLR's MLP projection head.

    The representation ``h`` is the global average of the last conv block's activations,
    as the pooled ResNet output in Chen et al. (2020); the NT-Xent loss sees
    ``z = Linear(ReLU(Linear(h)))``. The probes see :meth:`representation` of the same
    maps (``config.readout``). Probing ``h`` rather than a dense layer
    nearer the loss matters: a dense 128-unit layer on the flattened blocks, trained this
    way, probed below the same layer of a random network (0.81 after 6 epochs), while
    the flattened blocks themselves are so wide that random ones probe at 0.89.
    """

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        chans = [1, *config.channels]
        self.blocks = nnx.List(
            [
                ConvBlock(a, b, depth=config.block_depth, rngs=rngs)
                for a, b in zip(chans[:-1], chans[1:], strict=True)
            ]
        )
        self.projection = ReluMLP(
            chans[-1],
            (config.projection_hidden,) if config.projection_hidden else (),
            config.projection_dim,
            rngs=rngs,
        )

    def feature_maps(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        """The last conv block's activations ``(B, 7, 7, C)`` (that block has no max-pool)."""
        check_rank("x", x, rank=4)
        for block in self.blocks[:-1]:
            x = block(x, train=train)
        last = self.blocks[-1]
        for conv, norm in zip(last.convs, last.norms, strict=True):
            x = jax.nn.relu(norm(conv(x), train=train))
        return x

    def features(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        """``h``, the global average of :meth:`feature_maps`: what the head sees."""
        return self.feature_maps(x, train=train).mean(axis=(1, 2))

    def representation(self, x: jax.Array, *, readout: str = "avg") -> jax.Array:
        """What the linear probes see (eval mode): ``"avg"`` is ``h``; ``"avg_max"``
        concatenates the global average and the global maximum of the same maps."""
        check_readout(readout)
        maps = self.feature_maps(x)
        h = maps.mean(axis=(1, 2))
        return h if readout == "avg" else jnp.concatenate([h, maps.max(axis=(1, 2))], -1)

    def __call__(self, x: jax.Array, *, train: bool = False, key=None) -> jax.Array:
        del key  # no dropout
        return self.projection(self.features(x, train=train))


def build_encoder(config: ml_collections.ConfigDict, key: jax.Array) -> SimCLRNet:
    return SimCLRNet(config, rngs=nnx.Rngs(params=key))


def build_augment(config: ml_collections.ConfigDict):
    """Random resized crop, flip, and brightness/contrast jitter with probability
    ``config.jitter_p`` (without it, crops of one image can be matched by their grey
    levels alone, the shortcut SimCLR's colour distortion removes)."""
    fns = [partial(random_resized_crop, scale=tuple(config.crop_scale), method=config.crop_method)]
    if config.flip:
        fns.append(horizontal_flip)
    if config.jitter_p:
        jitter = partial(brightness_contrast, brightness=config.jitter, contrast=config.jitter)
        fns.append(random_apply(jitter, config.jitter_p))
    return compose(*fns)


def simclr_loss(model, batch_, *, train, key, augment, temperature):
    x = batch_["image"].astype(jnp.float32)[..., None] / 255.0
    v1, v2 = batch(two_views(augment), key, x)
    # One forward pass over both views, so BatchNorm sees them together.
    z = model((jnp.concatenate([v1, v2]) - MEAN) / STD, train=train)
    z1, z2 = jnp.split(z, 2)
    loss = ntxent(z1, z2, temperature=temperature).mean()
    return loss, {"loss": loss}


@partial(jax.jit, static_argnums=(0, 3))
def _features(graphdef, state, images, readout):
    model = nnx.merge(graphdef, state)
    x = normalize(images)
    return jax.lax.map(
        lambda b: model.representation(b, readout=readout), x.reshape(-1, 100, 28, 28, 1)
    ).reshape(x.shape[0], -1)


def features(model, images, readout: str = "avg") -> jax.Array:
    """Probe representations (:meth:`SimCLRNet.representation`) of ``images`` (uint8, a
    multiple of 100 of them) in eval mode."""
    n = images.shape[0] - images.shape[0] % 100
    return _features(*nnx.split(model), images[:n], readout)


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


def augmentation_gallery(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """Every augmentation of :mod:`jaxdl.data.augment` (as used here or at its defaults),
    by column title; ``two_views`` gives two columns."""
    pipeline = build_augment(config)
    return {
        "random_affine": random_affine,
        "elastic_transform": elastic_transform,
        f"random_resized_crop\nscale {tuple(config.crop_scale)}": partial(
            random_resized_crop, scale=tuple(config.crop_scale), method=config.crop_method
        ),
        "horizontal_flip\n(p=1)": partial(horizontal_flip, p=1.0),
        f"brightness_contrast\n({config.jitter})": partial(
            brightness_contrast, brightness=config.jitter, contrast=config.jitter
        ),
        "normalize\n(own colour scale)": partial(aug.normalize, mean=MEAN, std=STD),
        "random_apply(\nelastic, p=0.5)": random_apply(elastic_transform, 0.5),
        "compose: SimCLR\npipeline": pipeline,
        "two_views": two_views(pipeline),
    }


def plot_augmentations(
    images: np.ndarray, config: ml_collections.ConfigDict, path: Path, *, key: jax.Array
) -> None:
    """A grid: one row per image of ``images`` (uint8 ``(n, 28, 28)``), the original, then
    each augmentation of :func:`augmentation_gallery` with its own key per image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = jnp.asarray(images, jnp.float32)[..., None] / 255.0
    columns = [("original", x)]
    for i, (name, fn) in enumerate(augmentation_gallery(config).items()):
        # Eager: for a handful of images, compiling each pipeline costs more than it saves.
        out = batch(fn, jax.random.fold_in(key, i), x)
        if isinstance(out, tuple):
            columns += [(f"{name}\nview {j + 1}", v) for j, v in enumerate(out)]
        else:
            columns.append((name, out))
    n = len(images)
    fig, axes = plt.subplots(n, len(columns), figsize=(1.3 * len(columns), 1.35 * n + 0.6))
    axes = np.asarray(axes).reshape(n, len(columns))
    for c, (name, col) in enumerate(columns):
        own_scale = name.startswith("normalize")
        for r in range(n):
            ax = axes[r, c]
            ax.imshow(
                np.asarray(col[r, ..., 0]),
                cmap="gray_r",
                vmin=None if own_scale else 0.0,
                vmax=None if own_scale else 1.0,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, c].set_title(name, fontsize=7)
    fig.suptitle("jaxdl.data.augment on Fashion-MNIST test images (one key per image)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    tic = time.perf_counter()
    check_readout(config.readout)  # before a long training run, not after it
    workdir = Path(workdir)
    train, test = load_split(config, "train"), load_split(config, "test")
    k_model, k_state, k_data, k_random, k_subset = jax.random.split(jax.random.key(config.seed), 5)
    augment = build_augment(config)
    steps_per_epoch = len(train["label"]) // config.batch_size
    total = config.num_epochs * steps_per_epoch
    warmup = min(config.warmup_epochs * steps_per_epoch, total - 1)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0 if warmup else config.learning_rate, config.learning_rate, warmup, total
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
    read = partial(features, readout=config.readout)
    f_train, f_test = read(encoder, train["image"]), read(encoder, test["image"])
    metrics |= probes("simclr", f_train, train_y, f_test, test_y, subset, config)
    rand = build_encoder(config, k_random)
    metrics |= probes(
        "random_encoder",
        read(rand, train["image"]),
        train_y,
        read(rand, test["image"]),
        test_y,
        subset,
        config,
    )
    pix_train = train["image"][:n_train].reshape(n_train, -1) / 255.0
    pix_test = test["image"][:n_test].reshape(n_test, -1) / 255.0
    metrics |= probes("pixels", pix_train, train_y, pix_test, test_y, subset, config)
    plot_representation(np.asarray(f_test), np.asarray(test_y), workdir / "representation.png")
    if config.gallery_images:
        plot_augmentations(
            np.asarray(test["image"][: config.gallery_images]),
            config,
            workdir / "augmentations.png",
            key=jax.random.fold_in(jax.random.key(config.seed), 1),
        )
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=time.perf_counter() - tic,
        recipe="simclr",
    )
    return {"metrics": metrics, "wall_time_s": time.perf_counter() - tic}
