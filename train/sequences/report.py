"""The adder's accuracy table and attention figure (the sequences recipe's reports)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data.addition import decode
from jaxdl.nn.seq2seq import Seq2Seq
from jaxdl.viz import figure, save_figure

_MODES = ("teacher_forced", "open_loop")


def accuracy_table(
    results: Mapping[str, Mapping[str, Any]], *, digits: int, longer: tuple[int, ...]
) -> str:
    """A markdown table: one row per (attention kind, operand digits), the token and
    whole-answer accuracies teacher forced and open loop (from each stage's final
    ``test_*`` metrics, as :func:`train_and_evaluate` names them)."""
    lines = [
        "| attention | digits | teacher-forced digit acc. | open-loop digit acc. "
        "| teacher-forced answer acc. | open-loop answer acc. |",
        "|---|---|---|---|---|---|",
    ]
    for kind, metrics in results.items():
        for d in (digits, *longer):
            prefix = "test_" if d == digits else f"test_longer{d}_"
            label = f"{d} (trained)" if d == digits else f"{d} (longer)"
            cells = [
                f"{float(metrics[f'{prefix}{mode}_{unit}_accuracy']):.3f}"
                for unit in ("token", "sequence")
                for mode in _MODES
            ]
            lines.append(f"| {kind} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_attention(
    models: Mapping[str, Seq2Seq],
    path: str | os.PathLike,
    *,
    key: jax.Array,
    digits: tuple[int, ...],
    examples: int,
    batch_fn: Any,
) -> None:
    """One row per attention model, ``examples`` open-loop decodings per row split over
    the operand lengths in ``digits`` (sums from ``batch_fn(key, batch_size=,
    digits=)``): the weights of each generated digit (rows) over
    the source tokens (columns), the true answer and whether the model got it."""
    per = [examples // len(digits) + (i < examples % len(digits)) for i in range(len(digits))]
    batches = [
        batch_fn(jax.random.fold_in(key, d), batch_size=n, digits=d)
        for d, n in zip(digits, per, strict=True)
        if n
    ]
    fig, axes = figure(
        len(models), examples, figsize=(2.4 * examples, 2.3 * len(models)), squeeze=False
    )
    for row, (kind, model) in zip(axes, models.items(), strict=True):
        cells = iter(row)
        for b in batches:
            logits, weights = model.generate(
                b.source,
                start=b.target_inputs[:, 0],
                length=b.targets.shape[1],
                source_mask=getattr(b, "source_mask", None),
                return_attention=True,
            )
            guess = np.asarray(jnp.argmax(logits, -1))
            for i in range(b.source.shape[0]):
                ax = next(cells)
                ax.imshow(np.asarray(weights[i]), cmap="Greys", vmin=0, vmax=1, aspect="auto")
                ax.set_xticks(range(b.source.shape[1]), list(decode(b.source[i])))
                ax.set_yticks(range(guess.shape[1]), list(decode(guess[i])))
                ok = bool((guess[i] == np.asarray(b.targets[i])).all())
                answer = decode(b.targets[i])  # as the decoder writes it
                ax.set_title(f"{kind}: ={answer} {'right' if ok else 'wrong'}", fontsize=8)
                ax.tick_params(labelsize=7, length=0)
    fig.suptitle("attention weights: generated digit (rows) x source token", fontsize=9)
    save_figure(fig, path, dpi=72, rect=(0, 0, 1, 0.95))
