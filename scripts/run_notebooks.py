"""Executes notebooks in place so that they store their outputs, which the docs site shows
(``make notebooks``; the site's build runs no code).

Usage: python scripts/run_notebooks.py [notebooks/NAME.ipynb ...]   (default: all of them)

Each runs at its own default size (not the test suite's smoke size: JAXDL_SMOKE_TEST is
cleared), in its folder, as a reader would run it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def tidy(nb: nbformat.NotebookNode) -> None:
    """Drops the lines of stderr a reader cannot act on: tqdm's notice that the kernel has
    no ipywidgets (the bars fall back to text) and the line of source it quotes."""
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = out["text"].splitlines(keepends=True)
                kept = [
                    line
                    for i, line in enumerate(lines)
                    if "TqdmWarning" not in line
                    and not (i > 0 and "TqdmWarning" in lines[i - 1] and line.startswith("  "))
                ]
                if not "".join(kept).strip():
                    continue
                out["text"] = "".join(kept)
            outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs


def main(paths: list[str]) -> int:
    os.environ.pop("JAXDL_SMOKE_TEST", None)
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        start = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": path.parent}}
        )
        client.execute()
        tidy(nb)
        nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
