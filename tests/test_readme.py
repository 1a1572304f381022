"""The README's "Using the library" snippets run as written, on the tiny IDX data."""

from __future__ import annotations

import json
import math
import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Using the library"


def library_snippets(text: str) -> list[str]:
    """The ```python blocks between the "Using the library" heading and the next heading."""
    start = text.find(f"\n{SECTION}\n")
    assert start >= 0, f"README.md has no {SECTION!r} section"
    body = text[start + len(SECTION) + 2 :]
    end = body.find("\n## ")
    return re.findall(r"^```python\n(.*?)^```$", body[: end if end >= 0 else None], re.S | re.M)


def test_library_snippets_are_found():
    blocks = library_snippets(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    assert all("import" in block for block in blocks)
    text = "# t\n\n## Using the library\n\n```python\nx = 1\n```\n\n## Next\n\n```python\ny\n```\n"
    assert library_snippets(text) == ["x = 1\n"]


def test_library_snippets_run(tiny_fmnist, tmp_path, monkeypatch):
    # The loader reads $JAXDL_DATA_DIR before Debian's folder: the snippet trains on the
    # 256 + 100 tiny images, and its workdir lands in tmp_path.
    monkeypatch.setenv("JAXDL_DATA_DIR", str(tiny_fmnist))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for i, block in enumerate(library_snippets(README.read_text(encoding="utf-8"))):
        exec(compile(block, f"README.md[{SECTION} block {i}]", "exec"), namespace)

    result = namespace["result"]
    assert len(namespace["train_data"]["label"]) == 256  # the tiny data, not the real one
    assert namespace["train_data"]["image"].shape[1:] == (28, 28, 1)
    assert math.isfinite(result.final["train_loss"])
    assert 0.0 <= result.final["test_accuracy"] <= 1.0
    records = (tmp_path / "runs/mine/metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in records] == [1, 2]
    # The classic block ran on the same pixels.
    assert np.shape(namespace["pred"]) == (100,)
    assert np.shape(namespace["accs"]) == (15,)
