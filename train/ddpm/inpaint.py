"""In-painting Fashion-MNIST with the trained DDPM (RePaint) next to the in-painting
autoencoder: GLIDE's mask editing, at the scale of this repository.

Usage::

    python -m train.ddpm.inpaint --ddpm=runs/ddpm --autoencoder=runs/inpaint \\
        --classifier=runs/fashion_mnist [--num_images=500] [--num_steps=50] \\
        [--resample=5] [--jump=5] [--guidance_scales=1,2] [--out=DIR]

The same ``num_images`` test images lose the same patch (the autoencoder run's
``patch_size``, placed by :func:`jaxdl.data.masks.random_patch_mask`). They are filled

- with the mean training image (the baseline the autoencoder's README uses),
- by the ``generative --config=inpaint`` autoencoder (one forward pass, trained for it),
- by the ``ddpm`` run's denoiser, never trained for it, through
  :func:`jaxdl.diffusion.inpaint_sample` (RePaint: the known pixels re-noised to every
  step, ``resample`` denoisings per level, ``jump`` levels at a time), guided by the
  image's true class with classifier-free guidance (``guidance_scale = 1``: the plain
  conditional model).

Scores: the patch MSE in ``[0, 1]`` pixel units (the autoencoder's ``test_patch_mse``)
and the domain FD of ``train.ddpm.evaluate`` (features of the ``fashion_mnist`` CNN) of
the filled images against the 10,000 test images, plus how often that CNN gives the
filled image its class. The unmasked originals are scored too: the floor at this count.
Writes ``inpainting.json``, ``inpainting.md`` and ``inpainting.png`` (rows: originals,
masked, autoencoder, then one row per guidance scale) to ``--out`` (default: the ddpm
run).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from jaxdl.data import load_fashion_mnist
from jaxdl.data.masks import random_patch_mask
from jaxdl.diffusion import (
    classifier_free_guidance,
    inpaint_sample,
    make_schedule,
    repaint_schedule,
    to_unit,
)
from jaxdl.losses import masked_mse
from jaxdl.metrics import feature_statistics, frechet_distance
from jaxdl.training import compile_cache, environment
from jaxdl.viz import save_grid

from ..cli_config import ConfigError
from ..loading import load_run
from .evaluate import classifier_outputs, load_classifier, load_ddpm
from .train import NUM_CLASSES, build_sampler

GRID_COLUMNS = 10


def _filler(sampler, *, w, num_steps, resample, jump, eta, bar):
    """A compiled ``fill(known, mask, labels, key)``: the denoiser's fill of ``known``
    ``(n, 28, 28, 1)`` in [0, 1]; ``bar[0]``, if set, counts the moves."""

    def tick(i):
        if bar[0] is not None:
            bar[0].update(1)

    @jax.jit
    def run(params, rest, known, mask, labels, key):
        net = nnx.merge(sampler.graphdef, params, rest)
        if w == 1.0:
            eps_fn = lambda x, t: net(x, t, labels)  # noqa: E731
        else:
            eps_fn = classifier_free_guidance(net, labels, guidance_scale=w, null_label=NUM_CLASSES)
        x = inpaint_sample(
            eps_fn,
            sampler.schedule,
            known * 2.0 - 1.0,
            mask,
            key=key,
            num_steps=num_steps,
            resample=resample,
            jump=jump,
            eta=eta,
            clip_sample=1.0,
            callback=tick,
        )
        return to_unit(x)

    return functools.partial(run, sampler.params, sampler.rest)


def _score(classifier, ref, x, images, mask, labels) -> dict[str, float]:
    """Patch MSE against ``images`` and the domain FD / class accuracy of ``x``."""
    u8 = np.round(np.asarray(x)[..., 0] * 255).astype(np.uint8)  # as the dataset stores them
    feats, logits = classifier_outputs(classifier, u8)
    return {
        "patch_mse": float(jnp.mean(masked_mse(x, images, mask))),
        "fd": float(frechet_distance(*ref, *feature_statistics(feats))),
        "accuracy": float(np.mean(logits.argmax(-1) == labels)),
    }


def inpaint_eval(
    ddpm_dir: str | Path,
    autoencoder_dir: str | Path,
    classifier_dir: str | Path,
    *,
    num_images: int = 500,
    num_steps: int = 50,
    resample: int = 5,
    jump: int = 5,
    guidance_scales: tuple[float, ...] = (1.0,),
    eta: float = 1.0,
    batch_size: int = 250,
    seed: int = 0,
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fills the same masked test images three ways; writes and returns the scores."""
    if num_images < 1 or batch_size < 1:
        raise ConfigError(
            f"num_images is {num_images} and batch_size {batch_size}, expected both >= 1."
        )
    out = Path(out or ddpm_dir)
    out.mkdir(parents=True, exist_ok=True)
    config, state = load_ddpm(Path(ddpm_dir))
    sampler = build_sampler(state, make_schedule(config.schedule, config.num_timesteps))
    autoencoder, ae_config = load_run(autoencoder_dir)
    if ae_config.get("model") != "inpaint":
        raise ConfigError(
            f"{autoencoder_dir} trained a {ae_config.get('model')!r} model, expected the "
            "in-painting autoencoder (python -m train generative --config=inpaint)."
        )
    autoencoder.eval()
    classifier = load_classifier(Path(classifier_dir))

    data_dir = config.data_dir or None
    test_images, test_labels = map(np.asarray, load_fashion_mnist("test", data_dir=data_dir))
    train_images, _ = load_fashion_mnist("train", data_dir=data_dir)
    ref = feature_statistics(classifier_outputs(classifier, test_images)[0])
    n = min(num_images, len(test_labels))
    pick = np.asarray(jax.random.permutation(jax.random.key(seed), len(test_labels)))[:n]
    images = jnp.asarray(test_images[pick], jnp.float32)[..., None] / 255.0  # (n, 28, 28, 1)
    labels = test_labels[pick]
    mask = random_patch_mask(jax.random.key(seed + 1), n, size=ae_config.patch_size)
    mean_image = jnp.asarray(train_images, jnp.float32).mean(0)[..., None] / 255.0

    def fill(patch):
        return images * (1 - mask) + patch * mask

    score = functools.partial(_score, classifier, ref, images=images, mask=mask, labels=labels)
    rows = [{"method": "originals (nothing masked)", **score(images)}]
    rows.append({"method": "mean training image in the patch", **score(fill(mean_image))})
    tic = time.perf_counter()
    ae_fill = fill(jax.jit(lambda x, m: jax.nn.sigmoid(autoencoder(x, m)))(images, mask))
    jax.block_until_ready(ae_fill)
    rows.append(
        {
            "method": "in-painting autoencoder",
            **score(ae_fill),
            "network_calls": 1,
            "wall_time_s": time.perf_counter() - tic,
        }
    )
    moves = repaint_schedule(num_steps, resample=resample, jump=jump)
    calls = int(np.sum(moves[:, 1] < moves[:, 0]))
    grid = [images, images * (1 - mask), ae_fill]
    for i, w in enumerate(guidance_scales):
        bar = [None]
        run = _filler(
            sampler, w=float(w), num_steps=num_steps, resample=resample, jump=jump, eta=eta, bar=bar
        )
        chunks = []
        tic = time.perf_counter()
        with tqdm(
            total=len(moves) * -(-n // batch_size),
            desc=f"RePaint w={w:g}",
            unit="move",
            disable=not progress,
            leave=False,
        ) as bar[0]:
            for j, start in enumerate(range(0, n, batch_size)):
                part = slice(start, start + batch_size)
                key = jax.random.fold_in(jax.random.key(seed + 2 + i), j)
                labels_j = jnp.asarray(labels[part], jnp.int32)
                x = run(images[part], mask[part], labels_j, key)
                chunks.append(np.asarray(jax.block_until_ready(x)))
        ddpm_fill = fill(jnp.asarray(np.concatenate(chunks)))
        grid.append(ddpm_fill)
        row = {
            "method": f"DDPM RePaint, guidance {w:g}",
            "guidance_scale": float(w),
            **score(ddpm_fill),
            "network_calls": calls * (1 if w == 1.0 else 2),
            "wall_time_s": time.perf_counter() - tic,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    cols = min(GRID_COLUMNS, n)
    save_grid(np.concatenate([np.asarray(g[:cols]) for g in grid]), out / "inpainting.png", cols)
    result = {
        "num_images": n,
        "patch_size": int(ae_config.patch_size),
        "repaint": {
            "num_steps": num_steps,
            "resample": resample,
            "jump": jump,
            "eta": eta,
            "moves": len(moves),
            "denoiser_calls_per_image": calls,
        },
        "ddpm_run": str(ddpm_dir),
        "ddpm_steps_trained": int(state.step),
        "autoencoder_run": str(autoencoder_dir),
        "classifier": str(classifier_dir),
        "rows": rows,
        **environment(),
    }
    (out / "inpainting.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "inpainting.md").write_text(markdown_table(result))
    return result


def markdown_table(result: dict[str, Any]) -> str:
    """The rows of :func:`inpaint_eval` as a Markdown table."""
    rp = result["repaint"]
    lines = [
        f"{result['num_images']} test images, one {result['patch_size']}x{result['patch_size']} "
        f"patch each; RePaint on {rp['num_steps']} strided steps, resample {rp['resample']}, "
        f"jump {rp['jump']}, eta {rp['eta']:g} ({rp['denoiser_calls_per_image']} denoiser "
        "calls per image, doubled by guidance). Domain FD against the 10,000 test images.",
        "",
        "| filled by | patch MSE | domain FD | classified as their class | network calls | "
        "wall time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        calls = str(r.get("network_calls", "-"))
        wall = f"{r['wall_time_s']:.1f}" if "wall_time_s" in r else "-"
        lines.append(
            f"| {r['method']} | {r['patch_mse']:.4f} | {r['fd']:.2f} | {r['accuracy']:.3f} | "
            f"{calls} | {wall} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.ddpm.inpaint", description=__doc__)
    parser.add_argument("--ddpm", default="runs/ddpm", help="the ddpm run")
    parser.add_argument("--autoencoder", default="runs/inpaint", help="generative inpaint run")
    parser.add_argument("--classifier", default="runs/fashion_mnist", help="fashion_mnist run")
    parser.add_argument("--num_images", type=int, default=500)
    parser.add_argument("--num_steps", type=int, default=50, help="strided reverse steps")
    parser.add_argument("--resample", type=int, default=5, help="RePaint's r")
    parser.add_argument("--jump", type=int, default=5, help="RePaint's j")
    parser.add_argument("--guidance_scales", default="1", help="comma-separated; 1: none")
    parser.add_argument("--eta", type=float, default=1.0, help="1: ancestral steps")
    parser.add_argument("--batch_size", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for the results (default: --ddpm)")
    parser.add_argument(
        "--compilation-cache", default=None, help="DIR, or off (as python -m train)"
    )
    args = parser.parse_args(argv)
    cache = compile_cache.resolve_cache_dir(args.compilation_cache)
    if cache is not None:  # the RePaint scan takes minutes to compile on a busy CPU
        compile_cache.enable_compilation_cache(cache)
    result = inpaint_eval(
        args.ddpm,
        args.autoencoder,
        args.classifier,
        num_images=args.num_images,
        num_steps=args.num_steps,
        resample=args.resample,
        jump=args.jump,
        guidance_scales=tuple(float(w) for w in args.guidance_scales.split(",") if w),
        eta=args.eta,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
    )
    print(markdown_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
