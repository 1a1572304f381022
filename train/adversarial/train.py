"""Adversarial attacks (seed 001) on the Fashion-MNIST CNN of the foundation recipe."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl.attacks import fgsm, pgd, targeted_sgd
from jaxdl.training import Checkpointer, TrainState, write_summary
from train.fashion_mnist import train as classifier_recipe
from train.fashion_mnist.train import MEAN, STD, build_model, build_optimizer, load_split


def _classifier(config: ml_collections.ConfigDict, workdir: Path):
    """Restores the classifier from its workdir, training it there first if needed."""
    cwd = Path(config.classifier_workdir) if config.classifier_workdir else workdir / "classifier"
    if not (cwd / "checkpoints").is_dir():
        classifier_recipe.train_and_evaluate(config.classifier, cwd)
    c = config.classifier
    n_train = c.train_examples or 60_000
    template = TrainState.create(
        build_model(c, key=jax.random.key(0)),
        build_optimizer(c, n_train // c.batch_size),
        key=jax.random.key(0),
    )
    ckpt = Checkpointer(cwd / "checkpoints")
    _, state = ckpt.restore(template)
    ckpt.close()
    return state.model()


def save_examples(x, adv, labels, preds, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxdl.data import CLASS_NAMES

    n = min(6, x.shape[0])
    fig, axes = plt.subplots(2, n, figsize=(1.8 * n, 4))
    for i in range(n):
        axes[0, i].imshow(x[i, ..., 0], cmap="gray_r", vmin=0, vmax=1)
        axes[0, i].set_title(CLASS_NAMES[int(labels[i])], fontsize=8)
        axes[1, i].imshow(adv[i, ..., 0], cmap="gray_r", vmin=0, vmax=1)
        axes[1, i].set_title("-> " + CLASS_NAMES[int(preds[i])], fontsize=8)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle("PGD, eps = 0.1: original (top), adversarial (bottom)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    tic = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    model = _classifier(config, workdir)
    test = load_split(config.classifier, "test")
    x = test["image"].astype(jnp.float32)[..., None] / 255.0
    labels = test["label"]

    @jax.jit
    def logits_fn(x):
        return model((x - MEAN) / STD, train=False)

    correct = np.asarray(jnp.argmax(logits_fn(x), -1) == labels)
    idx = np.nonzero(correct)[0][: config.num_images]
    x, labels = x[idx], labels[idx]
    key = jax.random.key(config.seed)
    k_pgd, k_target = jax.random.split(key)

    def fooled(adv):
        return float(jnp.mean(jnp.argmax(logits_fn(adv), -1) != labels))

    adv_fgsm = jax.jit(partial(fgsm, logits_fn, eps=config.eps))(x, labels)
    adv_pgd = jax.jit(
        partial(
            pgd,
            logits_fn,
            eps=config.eps,
            step_size=config.pgd_step_size,
            num_steps=config.pgd_steps,
        )
    )(x, labels, key=k_pgd)
    # A target different from the true label for every image.
    targets = (labels + jax.random.randint(k_target, labels.shape, 1, 10)) % 10
    _, steps, success = jax.jit(
        partial(
            targeted_sgd,
            logits_fn,
            learning_rate=config.targeted_lr,
            max_steps=config.targeted_max_steps,
        )
    )(x, targets)
    metrics = {
        "clean_test_accuracy": float(correct.mean()),
        "num_attacked": int(len(idx)),
        "fgsm_success": fooled(adv_fgsm),
        "pgd_success": fooled(adv_pgd),
        "pgd_linf": float(jnp.max(jnp.abs(adv_pgd - x))),
        "targeted_success": float(jnp.mean(success)),
        "targeted_median_steps": float(np.median(np.asarray(steps))),
        "targeted_max_steps_taken": int(jnp.max(steps)),
    }
    save_examples(
        np.asarray(x),
        np.asarray(adv_pgd),
        np.asarray(labels),
        np.asarray(jnp.argmax(logits_fn(adv_pgd), -1)),
        workdir / "attacks.png",
    )
    write_summary(
        workdir,
        metrics=metrics,
        config=config.to_dict(),
        wall_time_s=time.perf_counter() - tic,
        recipe="adversarial",
    )
    return {"metrics": metrics, "wall_time_s": time.perf_counter() - tic}
