"""An offline English corpus: the Debian ``fortunes`` package's plain-text cookie files.

``apt-get install fortunes`` puts about 460,000 words of quotations, jokes and definitions
in ``/usr/share/games/fortunes`` as UTF-8 text (one file per topic, entries split by
``%`` lines). ``bible-kjv-text`` was the other candidate, but it installs the King James
Bible in the ``bible`` program's own compressed format, not as text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from jaxdl.errors import JaxdlError

__all__ = ["FORTUNES_DIR", "CorpusNotFoundError", "load_fortunes", "normalize"]

#: Where Debian's ``fortunes`` (and ``fortunes-min``) install their cookie files.
FORTUNES_DIR = Path("/usr/share/games/fortunes")


class CorpusNotFoundError(JaxdlError, FileNotFoundError):
    """The folder or file given as the corpus holds no text."""


_NOT_WORD = re.compile(r"[^a-z']+")


def normalize(line: str) -> str:
    """Lower case, letters and apostrophes only (quotes around words dropped), words
    separated by one space: ``"Don't PANIC!"`` -> ``"don't panic"``."""
    words = (w.strip("'") for w in _NOT_WORD.sub(" ", line.lower()).split())
    return " ".join(w for w in words if w)


def load_fortunes(path: str | os.PathLike | None = None) -> list[str]:
    """The fortunes as normalized lines (:func:`normalize`), one entry per line, in file
    name order; ``path``: a folder of cookie files (default :data:`FORTUNES_DIR`) or one
    file. The ``.dat`` index files and the ``.u8`` links are skipped.

    Raises:
      CorpusNotFoundError: (a ``FileNotFoundError``) when ``path`` holds no cookie file;
        the message says how to get them.
    """
    root = Path(path) if path is not None else FORTUNES_DIR
    if root.is_file():
        files = [root]
    else:
        files = sorted(
            p
            for p in (root.iterdir() if root.is_dir() else ())
            if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8")
        )
    if not files:
        raise CorpusNotFoundError(
            f"No fortune cookie files in {root}; install them with "
            "`apt-get install fortunes` or pass the folder that holds them."
        )
    lines = []
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        for entry in re.split(r"^%$", text, flags=re.MULTILINE):
            if line := normalize(entry):
                lines.append(line)
    return lines
