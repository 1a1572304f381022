"""MkDocs hooks: the README, CHANGELOG and CONTRIBUTING become pages of the site.

They live at the repository root, where GitHub and PyPI show them, so the site builds its
pages from them rather than keeping copies that drift. Links into ``docs/`` are made
relative to the site; links to other files of the repository become their path in code
(the site does not hold them), so ``mkdocs build --strict`` finds no broken link.
"""

from __future__ import annotations

import pathlib
import re

from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = {
    "index.md": "README.md",
    "changelog.md": "CHANGELOG.md",
    "contributing.md": "CONTRIBUTING.md",
}
SITE_PAGES = {
    "README.md": "index.md",
    "CHANGELOG.md": "changelog.md",
    "CONTRIBUTING.md": "contributing.md",
}
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _relink(match: re.Match) -> str:
    text, target = match.groups()
    if re.match(r"[a-z]+:|#", target):
        return match.group(0)  # a web address or an anchor: kept as it is
    if target.startswith("docs/"):
        return f"[{text}]({target.removeprefix('docs/')})"
    if target in SITE_PAGES:
        return f"[{text}]({SITE_PAGES[target]})"
    return text if text.startswith("`") else f"{text} (`{target}`)"


def on_files(files, config):
    for page, source in PAGES.items():
        content = _LINK.sub(_relink, (ROOT / source).read_text(encoding="utf-8"))
        files.append(File.generated(config, page, content=content))
    return files
