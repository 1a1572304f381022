"""A griffe extension for the API pages: jaxdl's doctests render as code.

jaxdl's docstrings head their doctests ``Example:``, which griffe's Google parser reads as
an "example" admonition holding Markdown, so an output line such as ``[0.6, 2.1]`` would
become a broken link; renamed ``Examples:``, the section is parsed as doctest code. A
doctest at the left margin of a module docstring (outside any section) is fenced as
``pycon`` for the same reason. Only what the site shows changes, not the sources.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.M)


def _fence_top_level(text: str) -> str:
    out: list[str] = []
    in_doctest = False
    for line in text.splitlines():
        if not in_doctest and line.startswith(">>>"):
            out.append("```pycon")
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


class DoctestsAsCode(griffe.Extension):
    """Renames ``Example:`` sections ``Examples:`` and fences top-level doctests."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _fence_top_level(value)
