"""Config loading and ``--config.field=value`` overrides with one-sentence errors."""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import ml_collections

from jaxdl.errors import JaxdlError

__all__ = ["ConfigError", "apply_override", "config_names", "load_config", "parse_value"]


class ConfigError(JaxdlError, ValueError):
    """A recipe's config name, field or value is wrong.

    Raised by the command line and the recipes; the library raises ``ValueError`` naming
    the argument instead.
    """


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
        module = importlib.import_module(f"train.{recipe}.configs.{name}")
    return module.get_config()


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
