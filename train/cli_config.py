"""Config loading and ``--config.field=value`` overrides with one-sentence errors."""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import io
import math
import re
import textwrap
import tokenize
from pathlib import Path
from typing import Any

import ml_collections

from jaxdl.errors import JaxdlError

__all__ = [
    "LIFECYCLE_FIELDS",
    "ConfigError",
    "add_lifecycle_fields",
    "apply_override",
    "config_names",
    "describe_fields",
    "field_comments",
    "load_config",
    "parse_value",
]


class ConfigError(JaxdlError, ValueError):
    """A recipe's config name, field or value is wrong.

    Raised by the command line and the recipes; the library raises ``ValueError`` naming
    the argument instead.
    """


#: The run lifecycle's fields, which every recipe's config gets from :func:`load_config`
#: (see :class:`jaxdl.training.Run`).
LIFECYCLE_FIELDS: dict[str, Any] = dict(
    resume=True,  # continue the run the workdir holds; false: refuse to open it
    overwrite=False,  # replace another run in the workdir (deleted once this one is safe)
    checkpoint_every_s=120.0,  # also checkpoint within epochs: the most work a kill costs
    checkpoint_every_steps=0,  # also checkpoint within epochs every this many steps
)


def add_lifecycle_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Adds the :data:`LIFECYCLE_FIELDS` that ``c`` does not have; returns ``c``."""
    for name, value in LIFECYCLE_FIELDS.items():
        if name not in c:
            c[name] = value
    return c


def config_names(recipe: str) -> list[str]:
    """The named configs of ``recipe`` (modules in ``train/<recipe>/configs``)."""
    folder = Path(__file__).parent / recipe / "configs"
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def load_config(recipe: str, name: str) -> ml_collections.ConfigDict:
    """``get_config()`` of the config ``name`` of ``recipe``, or of a ``.py`` file path."""
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"Config file {name} does not exist.")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        names = config_names(recipe)
        if name not in names:
            raise ConfigError(
                f"Recipe {recipe} has no config {name!r}{_did_you_mean(name, names)}; "
                f"choose one of {', '.join(names)} or pass a .py file."
            )
        module = importlib.import_module(f"{__package__}.{recipe}.configs.{name}")
    return add_lifecycle_fields(module.get_config())


def apply_override(config: ml_collections.ConfigDict, dotted: str, text: str) -> None:
    """Sets ``config.<dotted>`` from the command-line string ``text``, keeping its type."""
    *parents, leaf = dotted.split(".")
    node = config
    for i, part in enumerate(parents):
        node = _child(node, part, ".".join(parents[: i + 1]))
    current = _child(node, leaf, dotted)
    try:
        value = parse_value(text, current)
    except ValueError as e:
        raise ConfigError(f"--config.{dotted}={text} is not valid: {e}.") from None
    node[leaf] = value  # the field exists (checked above), so a locked config accepts it


def _child(node: Any, key: str, dotted: str) -> Any:
    if not isinstance(node, ml_collections.ConfigDict) or key not in node:
        known = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
        raise ConfigError(
            f"The config has no field {dotted!r}{_did_you_mean(key, known)}; "
            f"known fields: {', '.join(known)}."
        )
    return node[key]


def parse_value(text: str, current: Any) -> Any:
    """Parses ``text`` into the type of ``current`` (bool, int, float, str, tuple, None)."""
    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if isinstance(current, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected an integer") from None
    if isinstance(current, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if isinstance(current, str):
        return text
    if isinstance(current, tuple | list):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError("expected a tuple such as (32, 64)") from None
        value = tuple(value) if isinstance(value, tuple | list) else (value,)
        return type(current)(value)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Integer fields that must be at least 1 wherever a config has them (at any depth).
POSITIVE_INTS = frozenset(
    {
        "num_epochs",
        "num_steps",
        "batch_size",
        "eval_batch_size",
        "max_to_keep",
        "accum_steps",
        "num_seeds",
        "num_envs",
        "num_minibatches",
        "update_epochs",
        "total_timesteps",
        "chunk_steps",
        "num_timesteps",
        "block_depth",
        "max_steps",
    }
)
#: Number fields that must be at least 0.
NON_NEGATIVE = frozenset(
    {
        "steps_per_dispatch",
        "train_examples",
        "test_examples",
        "checkpoint_every_steps",
        "checkpoint_every_s",
        "warmup_epochs",
        "warmup_steps",
        "weight_decay",
        "dropout",
        "label_smoothing",
        "num_samples",
    }
)
#: Number fields that must be finite and above 0.
POSITIVE_NUMBERS = frozenset({"learning_rate", "temperature", "max_grad_norm", "grad_clip"})


def validate(config: ml_collections.ConfigDict, prefix: str = "config") -> None:
    """Checks the fields every recipe names alike before anything runs: an empty run
    (``num_epochs=0``), a batch of 0 or -5, a NaN learning rate.

    Raises:
      ConfigError: naming the first bad field, its value and what it should be.
    """
    for name, value in config.items():
        where = f"{prefix}.{name}"
        if isinstance(value, ml_collections.ConfigDict):
            validate(value, where)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            continue
        elif name in POSITIVE_INTS and value < 1:
            raise ConfigError(
                f"{where} is {value}, expected at least 1 (an empty run does nothing)."
            )
        elif name in NON_NEGATIVE and not value >= 0:
            raise ConfigError(f"{where} is {value}, expected at least 0.")
        elif name in POSITIVE_NUMBERS and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{where} is {value}, expected a finite number above 0.")


def config_source(recipe: str, name: str) -> Path:
    """The file that defines the config ``name`` of ``recipe`` (or ``name`` itself, a
    ``.py`` path)."""
    if name.endswith(".py"):
        return Path(name)
    return Path(__file__).parent / recipe / "configs" / f"{name}.py"


def field_comments(path: Path) -> dict[str, str]:
    """The comment of every config field ``path`` and the ``train`` modules it imports
    assign, keyed by the field's (last) name.

    A field's comment is the one on the line that assigns it (``c.lr = 0.1  # why``,
    ``lr=0.1,  # why`` in a dict, ``"lr": 0.1,  # why``) or, failing that, the block of
    comment lines right above that line. The config file wins over what it imports.
    """
    comments: dict[str, str] = {}
    sources = _sources(path, set())
    for source in sources:
        for name, text in _comments_of(source).items():
            comments.setdefault(name, text)
    # Fields that helpers such as add_run_fields(c, num_epochs=...) add are described
    # in the helper's docstring (its Args), not by a comment.
    for source in sources:
        for name, text in _documented_args(source).items():
            comments.setdefault(name, text)
    return comments


def _documented_args(path: Path) -> dict[str, str]:
    """``{argument: description}`` from the ``Args:`` sections of the functions of
    ``path`` whose names start with ``add_``."""
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return {}
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.FunctionDef) and node.name.startswith("add_")):
            continue
        doc = ast.get_docstring(node) or ""
        _, _, args = doc.partition("Args:")
        name = None
        for line in args.splitlines():
            if line.strip() and not line.startswith(" "):
                break  # the next section
            entry = re.match(r"^\s{2,4}(\w+): (.*)$", line)
            if entry:
                name = entry.group(1)
                found[name] = entry.group(2).strip()
            elif name and line.strip():
                found[name] += " " + line.strip()
    found.pop("c", None)
    # "None: leave the field out" speaks to the recipe's author, not to the command line.
    return {k: re.sub(r"\s*``None``: leave the field out\.", "", v) for k, v in found.items()}


# c.name = / c["name"] = / name=value (dict(...), keyword) / "name": value
_FIELD = re.compile(
    r"""^\s*(?:\w+\.(?P<attr>\w+)\s*=(?!=)|\w+\[["'](?P<item>\w+)["']\]\s*=(?!=)"""
    r"""|(?P<kw>\w+)\s*=(?!=)|["'](?P<key>\w+)["']\s*:)"""
)


def _comments_of(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (OSError, SyntaxError, tokenize.TokenError):
        return {}
    inline: dict[int, str] = {}  # line -> a comment after code on that line
    alone: dict[int, str] = {}  # line -> a comment that is the whole line
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            body = tok.string.lstrip("#").strip()
            (alone if not tok.line[:col].strip() else inline)[row] = body
    found: dict[str, str] = {}
    for row, line in enumerate(text.splitlines(), start=1):
        match = _FIELD.match(line)
        if not match:
            continue
        name = next(g for g in match.groups() if g)
        if row in inline:
            found.setdefault(name, inline[row])
            continue
        above, r = [], row - 1
        while r in alone:
            above.insert(0, alone[r])
            r -= 1
        if above:
            found.setdefault(name, " ".join(above))
    return found


def _sources(path: Path, seen: set[Path]) -> list[Path]:
    """``path``, then the files of the recipe modules it imports (recursively)."""
    path = path.resolve()
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    out = [path]
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return out
    root = Path(__file__).resolve().parent
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for candidate in _imported_files(path, node, root):
                out += _sources(candidate, seen)
    # The lifecycle fields every config gets are commented here.
    out += _sources(Path(__file__), seen)
    return out


def _imported_files(path: Path, node: ast.ImportFrom, root: Path) -> list[Path]:
    """The files under ``root`` (the recipes' package) that ``from ... import ...`` in
    ``path`` names: relative imports, or absolute ones through this package's name
    (``train`` in a checkout, ``jaxdl.recipes`` in the wheel)."""
    module = (node.module or "").split(".") if node.module else []
    if node.level:
        base = path.parent
        for _ in range(node.level - 1):
            base = base.parent
    else:
        prefix = __package__.split(".")
        if module[: len(prefix)] != prefix:
            return []
        base, module = root, module[len(prefix) :]
    base = base.joinpath(*module)
    files = [base.with_suffix(".py"), base / "__init__.py"]
    files += [base / f"{a.name}.py" for a in node.names]
    return [f for f in files if f.is_file() and f.resolve().is_relative_to(root)]


def describe_fields(recipe: str, name: str, config: ml_collections.ConfigDict) -> str:
    """The help of ``jaxdl-train RECIPE --config=NAME --help``: the config's docstring
    and every field (nested ones dotted) with its value and its comment.

    Example:
      >>> print(describe_fields("fashion_mnist", "quick", load_config("fashion_mnist",
      ...     "quick")).splitlines()[0])  # doctest: +ELLIPSIS
      usage: jaxdl-train fashion_mnist --config=quick [--config.FIELD=VALUE ...] ...
    """
    path = config_source(recipe, name)
    comments = field_comments(path)
    lines = [
        f"usage: jaxdl-train {recipe} --config={name} [--config.FIELD=VALUE ...] [--workdir=DIR]",
        "",
    ]
    doc = _docstring(path)
    if doc:
        lines += [doc, ""]
    lines.append("fields (set with --config.FIELD=VALUE; shown: the default, or the override):")
    for dotted, value in _flatten(config):
        lines.append(f"  {dotted:26s} {value!r}")
        comment = comments.get(dotted.rsplit(".", 1)[-1])
        if comment:
            lines += textwrap.wrap(
                comment, width=88, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
    return "\n".join(lines)


def _docstring(path: Path) -> str:
    try:
        return (ast.get_docstring(ast.parse(path.read_text())) or "").strip()
    except (OSError, SyntaxError):
        return ""


def _flatten(config: ml_collections.ConfigDict, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out
