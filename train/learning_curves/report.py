"""The learning_curves recipe's outputs: the measured effects of more data, of a smaller
model and of dropout, the markdown table, the JSON and the figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxdl.training.diagnostics import Diagnosis, diagnose
from jaxdl.viz import figure, save_figure

#: (changed model, reference model, what changed): pairs compared when both trained.
PAIRS = (
    ("mlp_small", "mlp", "smaller_model"),
    ("mlp_dropout", "mlp", "dropout"),
    ("cnn_dropout", "cnn", "dropout"),
)


def _final(c) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation error per size after the last step."""
    return c.train[-1], c.val[-1]


def effects(curves: list) -> dict[str, Any]:
    """The measured effect of more data (per model: smallest vs largest size) and of
    each change in :data:`PAIRS` (per size: the changed model minus the reference)."""
    by_name = {c.name: c for c in curves}
    out: dict[str, Any] = {"more_data": {}, "smaller_model": {}, "dropout": {}}
    for c in curves:
        train, val = _final(c)
        out["more_data"][c.name] = {
            "sizes": [c.sizes[0], c.sizes[-1]],
            "val_error": [round(float(val[0]), 4), round(float(val[-1]), 4)],
            "variance_gap": [
                round(float(val[0] - train[0]), 4),
                round(float(val[-1] - train[-1]), 4),
            ],
        }
    for changed, reference, kind in PAIRS:
        if changed in by_name and reference in by_name:
            (t1, v1), (t0, v0) = _final(by_name[changed]), _final(by_name[reference])
            out[kind][f"{changed} - {reference}"] = {
                "sizes": by_name[changed].sizes,
                "val_error": np.round(v1 - v0, 4).tolist(),
                "train_error": np.round(t1 - t0, 4).tolist(),
                "variance_gap": np.round((v1 - t1) - (v0 - t0), 4).tolist(),
            }
    return out


def verdict_at(c, j: int, config) -> str:
    """:func:`diagnose`'s verdict from the errors at size ``sizes[j]`` alone."""
    return diagnose(
        c.train[-1, j],
        c.val[-1, j],
        target_error=config.target_error,
        bias_margin=config.bias_margin,
        variance_margin=config.variance_margin,
    ).verdict.value


def markdown(curves: list, diagnoses: dict[str, Diagnosis], found: dict, config) -> str:
    """Errors per size per model, the diagnoses and the effects, as markdown."""
    names = [c.name for c in curves]
    lines = [
        f"Errors after {config.num_steps} steps of {config.batch_size} (training error on "
        f"the first min(n, {config.train_eval_examples}) training examples, validation on "
        f"{config.val_examples} held out), train / validation:",
        "",
        "| examples | " + " | ".join(names) + " |",
        "|---:|" + "---|" * len(names),
    ]
    for j, n in enumerate(curves[0].sizes):
        cells = [f"{c.train[-1, j]:.4f} / {c.val[-1, j]:.4f}" for c in curves]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines += ["", f"Diagnosis at {curves[0].sizes[-1]:,} examples (target error "
              f"{config.target_error}, margins {config.bias_margin} / "
              f"{config.variance_margin}):", ""]  # fmt: skip
    lines += [f"- `{name}`: {diagnoses[name]}" for name in names]
    lines += ["", "The same rule at each size (what one would conclude with only n examples):", ""]
    lines += ["| examples | " + " | ".join(names) + " |", "|---:|" + "---|" * len(names)]
    for j, n in enumerate(curves[0].sizes):
        cells = [verdict_at(c, j, config) for c in curves]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines += ["", "More data (smallest -> largest training set):", ""]
    for name, e in found["more_data"].items():
        lines.append(
            f"- `{name}`: validation error {e['val_error'][0]:.4f} -> {e['val_error'][1]:.4f}, "
            f"variance gap {e['variance_gap'][0]:+.4f} -> {e['variance_gap'][1]:+.4f}"
        )
    for kind in ("smaller_model", "dropout"):
        for pair, e in found[kind].items():
            lines += ["", f"{kind.replace('_', ' ').capitalize()} (`{pair}`, per size):", ""]
            lines.append("| examples | validation error | training error | variance gap |")
            lines.append("|---:|---:|---:|---:|")
            for j, n in enumerate(e["sizes"]):
                lines.append(
                    f"| {n:,} | {e['val_error'][j]:+.4f} | {e['train_error'][j]:+.4f} | "
                    f"{e['variance_gap'][j]:+.4f} |"
                )
    lines += ["", "Wall time per model (s): " + ", ".join(
        f"{c.name} {c.seconds:.0f} ({'vmapped' if c.vmapped else 'sizes in turn'})"
        for c in curves)]  # fmt: skip
    return "\n".join(lines) + "\n"


def as_json(curves: list, diagnoses: dict[str, Diagnosis], found: dict) -> dict[str, Any]:
    """Every curve, diagnosis and effect, as plain numbers."""
    return {
        "models": {
            c.name: {
                "sizes": c.sizes,
                "steps": c.steps,
                "train_error": np.round(c.train, 5).tolist(),
                "val_error": np.round(c.val, 5).tolist(),
                "vmapped": c.vmapped,
                "seconds": round(c.seconds, 1),
                "diagnosis": diagnoses[c.name].verdict.value,
                "bias_gap": round(diagnoses[c.name].bias_gap, 5),
                "variance_gap": round(diagnoses[c.name].variance_gap, 5),
            }
            for c in curves
        },
        "effects": found,
    }


def _short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def plot(curves: list, diagnoses: dict[str, Diagnosis], config, path: Path) -> Path:
    """Top row: error against training-set size; bottom row: error against epochs (of
    the largest set) for the largest and the smallest size."""
    fig, axes = figure(2, len(curves), figsize=(3.2 * len(curves), 6.0), squeeze=False)
    largest = curves[0].sizes[-1]
    for k, c in enumerate(curves):
        top, bottom = axes[0][k], axes[1][k]
        train, val = _final(c)
        top.plot(c.sizes, train, "o--", color="tab:blue", label="training")
        top.plot(c.sizes, val, "o-", color="tab:red", label="validation")
        top.axhline(config.target_error, color="grey", ls=":", label="target")
        top.set_xscale("log")
        top.set_xticks(c.sizes, [_short(n) for n in c.sizes], fontsize=7)
        top.minorticks_off()
        top.set_xlabel("training examples")
        top.set_title(f"{c.name}: {diagnoses[c.name].verdict.value}", fontsize=9)
        epochs = np.asarray(c.steps) * config.batch_size / largest
        for j, alpha in ((-1, 1.0), (0, 0.45)):
            label = f"n={c.sizes[j]:,}"
            bottom.plot(epochs, c.train[:, j], "--", color="tab:blue", alpha=alpha)
            bottom.plot(epochs, c.val[:, j], "-", color="tab:red", alpha=alpha, label=label)
        bottom.set_xlabel(f"epochs of the {largest:,} examples")
        bottom.legend(fontsize=7, title="validation (solid), training (dashed)",
                      title_fontsize=6)  # fmt: skip
        for ax in (top, bottom):
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("error")
    axes[1][0].set_ylabel("error")
    axes[0][0].legend(fontsize=7)
    return save_figure(fig, path, dpi=70)
