"""Token heatmaps of relevances: HTML (coloured text) and PNG (matplotlib)."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxdl.viz import figure, save_figure


def _scaled(relevance: Sequence[float]) -> np.ndarray:
    r = np.asarray(relevance, np.float64)
    top = np.abs(r).max() if r.size else 0.0
    return r / top if top > 0 else r


def _colour(v: float) -> str:
    # Red for positive (supports the explained output), blue for negative, white at 0.
    a = min(abs(v), 1.0)
    if v >= 0:
        return f"rgb(255,{int(255 * (1 - a))},{int(255 * (1 - a))})"
    return f"rgb({int(255 * (1 - a))},{int(255 * (1 - a))},255)"


def heatmap_html(
    tokens: Sequence[Sequence[str]],
    relevances: Sequence[Sequence[float]],
    *,
    captions: Sequence[str] | None = None,
    title: str = "Token relevance",
) -> str:
    """A standalone HTML page: one line per text, each token shaded by its relevance.

    Each line is scaled by its own largest absolute relevance; the exact value is in the
    token's tooltip.

    Example:
      >>> page = heatmap_html([["good", "film"]], [[0.9, -0.1]])
      >>> "rgb(255,0,0)" in page and "film" in page
      True
    """
    if len(tokens) != len(relevances):
        raise ValueError(f"{len(tokens)} token lists but {len(relevances)} relevance lists.")
    rows = []
    for i, (toks, rel) in enumerate(zip(tokens, relevances, strict=True)):
        if len(toks) != len(rel):
            raise ValueError(f"text {i} has {len(toks)} tokens but {len(rel)} relevances.")
        spans = " ".join(
            f'<span title="{r:.4g}" style="background:{_colour(s)};padding:1px 2px">'
            f"{html.escape(t)}</span>"
            for t, r, s in zip(toks, rel, _scaled(rel), strict=True)
        )
        caption = f"<div class='c'>{html.escape(captions[i])}</div>" if captions else ""
        rows.append(f"<div class='row'>{caption}{spans}</div>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:monospace}}"
        ".row{margin:0.8em 0;line-height:1.8}.c{color:#555;font-size:0.85em}</style>"
        f"</head><body><h3>{html.escape(title)}</h3>{''.join(rows)}</body></html>\n"
    )


def save_heatmap_png(
    tokens: Sequence[Sequence[str]],
    relevances: Sequence[Sequence[float]],
    path: str | os.PathLike,
    *,
    captions: Sequence[str] | None = None,
    title: str = "Token relevance",
) -> Path:
    """One heat strip per text (tokens on the x axis, red positive, blue negative)."""
    n = len(tokens)
    width = max(4.0, 0.45 * max((len(t) for t in tokens), default=1))
    fig, axes = figure(n, 1, figsize=(width, 1.3 * n + 0.6), squeeze=False)
    for i, (ax, toks, rel) in enumerate(zip(axes[:, 0], tokens, relevances, strict=True)):
        ax.imshow(_scaled(rel)[None], cmap="bwr", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(len(toks)), toks, rotation=60, ha="right", fontsize=8)
        ax.set_yticks([])
        if captions:
            ax.set_title(captions[i], fontsize=8, loc="left")
    fig.suptitle(title, fontsize=10)
    # Leave the top 0.5 inch to the title so it does not run into the first caption.
    return save_figure(fig, path, dpi=110, rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
