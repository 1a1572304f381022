"""Adversarial attacks (seed 001) on a Fashion-MNIST CNN like the foundation recipe's."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl.attacks import fgsm, pgd, targeted_sgd
from jaxdl.data import (
    CLASS_NAMES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    load_fashion_mnist_split,
    with_normalized_images,
)
from jaxdl.training import Checkpointer, Run, TrainState, classifier_eval, classifier_loss, fit
from jaxdl.viz import save_image_table

from .. import _common

#: The scaling fields this recipe cannot honour (see configs/default.py).
UNSUPPORTED = {
    "precision": "the classifier and the attacks are float32",
    "remat": "the classifier has no checkpointed blocks",
    "processes": "the attacks gather the images on one host",
}


def build_classifier(
    c: ml_collections.ConfigDict,
    steps_per_epoch: int,
    *,
    model_key: jax.Array,
    state_key: jax.Array,
) -> TrainState:
    """The CNN of ``config.classifier`` and its AdamW, as a fresh :class:`TrainState`."""
    model = _common.cnn_classifier(c, key=model_key)
    return TrainState.create(model, _common.warmup_cosine(c, steps_per_epoch), key=state_key)


def train_classifier(
    c: ml_collections.ConfigDict, workdir: Path, *, mesh=None, accum_steps: int = 1, **run_options
) -> None:
    """Trains the classifier into ``workdir`` (checkpoints, metrics, ``summary.json``),
    on ``mesh`` if given, in ``accum_steps`` micro-batches; ``run_options`` (the attack
    run's checkpoint fields) go to its ``Run``."""
    with _common.open_run(c, workdir, "adversarial/classifier", **run_options) as run:
        _fit_classifier(c, run, mesh=mesh, accum_steps=accum_steps)


def _fit_classifier(c: ml_collections.ConfigDict, run: Run, *, mesh, accum_steps: int) -> None:
    train, test = _common.fashion_mnist_splits(c, name="config.classifier")
    n_train = int(train["label"].shape[0])
    # The fashion_mnist recipe's keys, so the same config trains the same weights.
    model_key, state_key, data_key = jax.random.split(jax.random.key(c.seed), 3)
    state = build_classifier(c, n_train // c.batch_size, model_key=model_key, state_key=state_key)
    result = fit(
        state,
        train,
        test,
        loss_fn=with_normalized_images(partial(classifier_loss, label_smoothing=c.label_smoothing)),
        eval_fn=with_normalized_images(classifier_eval),
        data_key=data_key,
        run=run,
        mesh=mesh,
        **_common.fit_options(c) | {"accum_steps": accum_steps},
    )
    run.finish(result.final, epochs=result.metrics.get("epoch", 0))


def _classifier(config: ml_collections.ConfigDict, workdir: Path, mesh=None):
    """Restores the classifier from its workdir, training it there first if needed."""
    cwd = Path(config.classifier_workdir) if config.classifier_workdir else workdir / "classifier"
    if not (cwd / "summary.json").is_file():  # not trained, or killed while training
        every = ("checkpoint_every_s", "checkpoint_every_steps")  # the attack run's say
        options = {k: config[k] for k in every if k in config}
        # A killed classifier run resumes.
        train_classifier(
            config.classifier, cwd, mesh=mesh, accum_steps=config.accum_steps, **options
        )
    c = config.classifier
    steps_per_epoch = (c.train_examples or 60_000) // c.batch_size  # the schedule's length only
    key = jax.random.key(0)  # the checkpoint's values replace the template's
    template = build_classifier(c, steps_per_epoch, model_key=key, state_key=key)
    ckpt = Checkpointer(cwd / "checkpoints")
    _, state = ckpt.restore(template)
    ckpt.close()
    return state.model()


def save_examples(x, adv, labels, preds, path: Path) -> None:
    """Originals (top row, true class) over their PGD versions (bottom, predicted class)."""
    n = min(6, x.shape[0])
    save_image_table(
        [list(x[:n]), list(adv[:n])],
        path,
        titles=[
            [CLASS_NAMES[int(k)] for k in labels[:n]],
            ["-> " + CLASS_NAMES[int(k)] for k in preds[:n]],
        ],
        title="PGD, eps = 0.1: original (top), adversarial (bottom)",
        cell_size=(1.8, 2.0),
        fontsize=8,
        dpi=90,
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
    """Attacks the classifier (trained first when its workdir has none) with FGSM, PGD and
    the seed's targeted attack; writes the examples and the summary."""
    _common.check_scale_support(config, UNSUPPORTED)
    mesh = _common.setup(config)
    run = _common.open_run(config, workdir, "adversarial", tensorboard=False, checkpoints=False)
    with run:
        return _attack(config, run, mesh)


def _attack(config: ml_collections.ConfigDict, run: Run, mesh=None) -> dict[str, Any]:
    model = _classifier(config, run.workdir, mesh)
    c = config.classifier
    test = load_fashion_mnist_split("test", data_dir=c.data_dir or None, limit=c.test_examples)
    x = test["image"].astype(jnp.float32)[..., None] / 255.0
    labels = test["label"]

    @jax.jit
    def logits_fn(x):
        return model((x - FASHION_MNIST_MEAN) / FASHION_MNIST_STD, train=False)

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
    if run.path("attacks.png") is not None:
        save_examples(
            np.asarray(x),
            np.asarray(adv_pgd),
            np.asarray(labels),
            np.asarray(jnp.argmax(logits_fn(adv_pgd), -1)),
            run.path("attacks.png"),
        )
    return run.finish(metrics)
