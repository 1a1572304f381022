"""Sample quality of a trained ``ddpm`` run: a Fréchet distance for Fashion-MNIST.

Usage::

    python -m train.ddpm.evaluate --workdir=runs/ddpm --classifier=runs/fashion_mnist \\
        [--num_samples=2000] [--samplers=ddim10,ddim20,ddim50,ddim100,ddpm1000] \\
        [--guidance_scales=1,2,3]

The score is FID computed in another network's feature space: the Fréchet distance
between Gaussians fitted to the penultimate-layer features of the Fashion-MNIST CNN of
the ``fashion_mnist`` recipe (``CNNClassifier.features``), for the test set versus the
generated samples. It is a *domain FID*: comparable between samplers and runs scored
with the same classifier and the same number of samples, not with Inception-based FIDs.
Because the estimate is biased upwards for small sample counts, every sampler gets the
same ``num_samples`` and the table also shows the distance of as many real training
images (the floor at that sample count).

The same classifier labels every sample; with balanced class labels its accuracy says
how often a class-conditional sample looks like its class. Writes
``workdir/sample_quality.json``, ``workdir/sample_quality.md`` and one grid per sampler.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from jaxdl.data import load_fashion_mnist, normalize_fashion_mnist
from jaxdl.diffusion import make_schedule, to_unit
from jaxdl.metrics import feature_statistics, frechet_distance
from jaxdl.nn import CNNClassifier
from jaxdl.parallel import compute_dtype
from jaxdl.training import Checkpointer, TrainState, environment, warmup_cosine_optimizer
from jaxdl.viz import save_grid

from ..cli_config import ConfigError
from .train import NUM_CLASSES, build_sampler, build_state


def _saved_config(workdir: Path) -> ml_collections.ConfigDict:
    """The config a run wrote (``config.json`` at its start, or ``summary.json``)."""
    if (workdir / "config.json").is_file():
        return ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
    if (workdir / "summary.json").is_file():
        return ml_collections.ConfigDict(
            json.loads((workdir / "summary.json").read_text())["config"]
        )
    raise ConfigError(f"{workdir} has no config.json or summary.json; is it a training run?")


def load_ddpm(workdir: Path) -> tuple[ml_collections.ConfigDict, TrainState]:
    """The config and the newest checkpointed state of a ``ddpm`` run."""
    config = _saved_config(workdir)
    ckpt = Checkpointer(workdir / "checkpoints")
    try:
        _, state = ckpt.restore(build_state(config, 1))
    finally:
        ckpt.close()
    return config, state


def load_classifier(workdir: Path):
    """The trained Fashion-MNIST CNN of a ``fashion_mnist`` run (its newest checkpoint)."""
    config = _saved_config(workdir)
    if config.model != "cnn":
        raise ConfigError(f"{workdir} trained a {config.model!r}, expected the 'cnn' model.")
    model = CNNClassifier(
        (28, 28, 1),
        channels=config.channels,
        hidden=config.hidden,
        block_depth=config.block_depth,
        dropout=config.dropout,
        dtype=compute_dtype(config.get("precision", "float32")),
        norm=config.norm,
        norm_groups=config.norm_groups,
        rngs=nnx.Rngs(params=jax.random.key(0)),
    )
    # The schedule's length does not matter here: only the state's structure does.
    tx = warmup_cosine_optimizer(
        config.optimizer,
        learning_rate=config.learning_rate,
        num_steps=config.num_epochs,
        warmup_steps=config.warmup_epochs,
        weight_decay=config.weight_decay,
    )
    template = TrainState.create(model, tx, key=jax.random.key(0))
    ckpt = Checkpointer(workdir / "checkpoints")
    try:
        _, state = ckpt.restore(template)
    finally:
        ckpt.close()
    return state.model()


def classifier_outputs(classifier, images_uint8: np.ndarray, batch: int = 1000):
    """Features ``(N, hidden)`` and logits ``(N, 10)`` of uint8 images ``(N, 28, 28)``."""

    @jax.jit
    def run(x):
        x = normalize_fashion_mnist(x)
        return classifier.features(x), classifier(x)

    feats, logits = [], []
    for i in range(0, len(images_uint8), batch):
        f, lg = run(jnp.asarray(images_uint8[i : i + batch]))
        feats.append(np.asarray(f))
        logits.append(np.asarray(lg))
    return np.concatenate(feats), np.concatenate(logits)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Samples in [-1, 1], ``(N, 28, 28, 1)`` -> uint8 ``(N, 28, 28)``, like the dataset."""
    return np.round(np.asarray(to_unit(jnp.asarray(x)))[..., 0] * 255).astype(np.uint8)


def parse_sampler(name: str) -> tuple[str, int]:
    """``"ddim50"`` -> ``("ddim", 50)``; ``"ddpm1000"`` -> ``("ddpm", 1000)``."""
    for method in ("ddim", "ddpm"):
        if name.startswith(method) and name[len(method) :].isdigit():
            return method, int(name[len(method) :])
    raise ConfigError(f"sampler {name!r} is not ddimN or ddpmN, e.g. ddim50 or ddpm1000.")


def evaluate(
    workdir: str | Path,
    classifier_dir: str | Path,
    *,
    num_samples: int,
    samplers: list[str],
    guidance_scales: list[float],
    guided_sampler: str = "ddim50",
    eta: float = 0.0,
    batch_size: int = 1000,
    seed: int = 0,
    progress: bool = True,
    output_name: str = "sample_quality",
) -> dict[str, Any]:
    """Scores each sampler and each guidance scale; writes the json, table and grids."""
    workdir = Path(workdir)
    config, state = load_ddpm(workdir)
    classifier = load_classifier(Path(classifier_dir))
    schedule = make_schedule(config.schedule, config.num_timesteps)
    sampler = build_sampler(state, schedule)

    test_images, test_labels = load_fashion_mnist("test", data_dir=config.data_dir or None)
    test_feats, test_logits = classifier_outputs(classifier, np.asarray(test_images))
    ref = feature_statistics(test_feats)
    classifier_test_accuracy = float(np.mean(test_logits.argmax(-1) == np.asarray(test_labels)))

    def score(images_u8: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        feats, logits = classifier_outputs(classifier, images_u8)
        fd = frechet_distance(*ref, *feature_statistics(feats))
        return {"fd": float(fd), "accuracy": float(np.mean(logits.argmax(-1) == labels))}

    labels = np.arange(num_samples) % NUM_CLASSES  # balanced classes
    train_images, train_labels = load_fashion_mnist("train", data_dir=config.data_dir or None)
    pick = np.asarray(jax.random.permutation(jax.random.key(seed), len(train_labels)))[:num_samples]
    rows = [
        {
            "sampler": "real train images",
            **score(np.asarray(train_images)[pick], np.asarray(train_labels)[pick]),
        }
    ]
    key = jax.random.key(seed + 1)

    def run(name: str, w: float) -> dict[str, Any]:
        method, steps = parse_sampler(name)
        if method == "ddpm" and steps != schedule.num_timesteps:
            raise ConfigError(
                f"sampler {name!r}: DDPM takes all {schedule.num_timesteps} steps of this run's "
                f"schedule; use ddpm{schedule.num_timesteps}."
            )
        kwargs = dict(
            method=method, num_steps=steps, guidance_scale=w, eta=eta, batch_size=batch_size
        )
        sampler.prepare(num_samples, **kwargs)
        tic = time.perf_counter()
        x = sampler(labels, key=key, progress=progress, desc=f"{name} w={w:g}", **kwargs)
        wall = time.perf_counter() - tic
        u8 = to_uint8(x)
        if len(u8) >= NUM_CLASSES:  # a grid needs one full row: one image per class
            grid = u8[:80, ..., None] / 255.0
            save_grid(grid, workdir / f"samples_{name}_w{w:g}.png", NUM_CLASSES)
        row = {"sampler": name, "guidance_scale": w, "network_calls": steps}
        if method == "ddim":
            row["eta"] = eta
        row |= score(u8, labels)
        row["wall_time_s"] = wall
        print(json.dumps(row), flush=True)
        return row

    for name in samplers:
        rows.append(run(name, 1.0))
    guided = [run(guided_sampler, w) for w in guidance_scales if w != 1.0]
    result = {
        "num_samples": num_samples,
        "classifier": str(classifier_dir),
        "classifier_test_accuracy": classifier_test_accuracy,
        "ddpm_run": str(workdir),
        "ddpm_steps_trained": int(state.step),
        "samplers": rows,
        "guided": guided,
        **environment(),
    }
    (workdir / f"{output_name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (workdir / f"{output_name}.md").write_text(markdown_table(result))
    return result


def markdown_table(result: dict[str, Any]) -> str:
    """The samplers and guidance scales as a Markdown table."""
    lines = [
        f"{result['num_samples']} samples per row, balanced classes; domain FD against the "
        f"10,000 test images; classifier test accuracy {result['classifier_test_accuracy']:.3f}.",
        "",
        "| sampler | guidance | network calls | domain FD | classified as their class | "
        "wall time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["samplers"] + result["guided"]:
        w = f"{r['guidance_scale']:g}" if "guidance_scale" in r else "-"
        calls = str(r.get("network_calls", "-"))
        wall = f"{r['wall_time_s']:.1f}" if "wall_time_s" in r else "-"
        name = r["sampler"] + (f" (eta {r['eta']:g})" if r.get("eta") else "")
        lines.append(f"| {name} | {w} | {calls} | {r['fd']:.2f} | {r['accuracy']:.3f} | {wall} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.ddpm.evaluate", description=__doc__)
    parser.add_argument("--workdir", default="runs/ddpm", help="the ddpm run to score")
    parser.add_argument("--classifier", default="runs/fashion_mnist", help="fashion_mnist run")
    parser.add_argument("--num_samples", type=int, default=2000)
    parser.add_argument("--samplers", default="ddim10,ddim20,ddim50,ddim100,ddpm1000")
    parser.add_argument("--guidance_scales", default="1,2,3")
    parser.add_argument("--guided_sampler", default="ddim50")
    parser.add_argument("--eta", type=float, default=0.0, help="DDIM's eta (0: deterministic)")
    parser.add_argument("--batch_size", type=int, default=1000)
    parser.add_argument("--output_name", default="sample_quality", help="NAME.json, NAME.md")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = evaluate(
        args.workdir,
        args.classifier,
        num_samples=args.num_samples,
        samplers=[s for s in args.samplers.split(",") if s],
        guidance_scales=[float(w) for w in args.guidance_scales.split(",") if w],
        guided_sampler=args.guided_sampler,
        eta=args.eta,
        batch_size=args.batch_size,
        seed=args.seed,
        output_name=args.output_name,
    )
    print(markdown_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
