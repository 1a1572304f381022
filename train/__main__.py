"""``python -m train RECIPE`` (== ``jaxdl-train RECIPE``): run a recipe's training.

Usage:
  jaxdl-train --list
  jaxdl-train RECIPE [--config=NAME|FILE.py] [--config.FIELD=VALUE ...] [--workdir=DIR]
  jaxdl-train RECIPE [--config=NAME] --help    the config's fields, defaults and comments

Compiled programs are kept in JAX's persistent compilation cache, so a second run or a
resume of the same config loads them instead of compiling again:
``--compilation-cache=DIR`` (or ``$JAXDL_COMPILATION_CACHE``; ``off`` disables it;
default ``~/.cache/jaxdl/xla``, see ``jaxdl.training.compile_cache``).

Every error ends the run with one sentence ``error: ...`` and no traceback (set
``JAXDL_DEBUG=1`` for it): exit status 2 for a usage error (a wrong config, field or
value, a busy workdir or one that holds another run) and 1 for a failure (the loss
became NaN, a final metric is not finite, the disk is full or read-only, the data or
the weights are missing or corrupt).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from pathlib import Path

from jaxdl.data.idx import IDXFormatError
from jaxdl.data.names import NamesDataError
from jaxdl.errors import (
    CheckpointCorruptError,
    JaxdlError,
    NonFiniteLossError,
    PretrainedFileError,
    UsageError,
    WorkdirError,
)
from jaxdl.training import compile_cache
from jaxdl.training.workdir import as_path

from . import _common
from .cli_config import (
    ConfigError,
    apply_override,
    config_names,
    describe_fields,
    load_config,
    validate,
)

USAGE, FAILURE = 2, 1
#: Errors that say the run failed, although some of them are also ValueErrors.
FAILURES = (
    NonFiniteLossError,
    WorkdirError,
    CheckpointCorruptError,
    PretrainedFileError,
    IDXFormatError,
    NamesDataError,
)


def recipes() -> list[str]:
    """Folders of ``train/`` that have a ``train.py`` and a ``configs/`` folder."""
    here = Path(__file__).parent
    return sorted(
        p.name for p in here.iterdir() if (p / "train.py").is_file() and (p / "configs").is_dir()
    )


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[tuple[str, str]]]:
    """Splits ``--config.x=y`` overrides (in order) from the ordinary arguments."""
    overrides, rest = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            field, sep, value = arg[len("--config.") :].partition("=")
            if not sep:
                if i + 1 == len(argv):
                    raise ConfigError(f"{arg} needs a value, e.g. {arg}=VALUE.")
                value, i = argv[i + 1], i + 1
            overrides.append((field, value))
        else:
            rest.append(arg)
        i += 1
    return build_parser().parse_args(rest), overrides


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ordinary arguments (``--config.FIELD=VALUE`` is split off
    before it, by :func:`parse_args`)."""
    parser = argparse.ArgumentParser(
        prog="jaxdl-train",
        usage="jaxdl-train [--list] RECIPE [--config=NAME|FILE.py] "
        "[--config.FIELD=VALUE ...] [--workdir=DIR]",
        description="Train a jaxdl recipe.",
        epilog="--config.FIELD=VALUE sets one field of the config (nested ones dotted, "
        "e.g. --config.learning_rate=1e-3 --config.channels='(16, 32)'); the value keeps "
        "the field's type. `jaxdl-train RECIPE [--config=NAME] --help` lists the "
        "config's fields, their defaults and what they mean.",
        allow_abbrev=False,
        add_help=False,
    )
    parser.add_argument("recipe", nargs="?", help="recipe to run; see --list")
    parser.add_argument(
        "-h",
        "--help",
        action="store_true",
        help="show this help (with a RECIPE: its config's fields) and exit",
    )
    parser.add_argument("--list", action="store_true", help="list recipes and their configs")
    parser.add_argument("--config", default="default", help="config name or .py file")
    parser.add_argument("--workdir", default=None, help="output folder (default runs/RECIPE)")
    parser.add_argument(
        "--compilation-cache",
        default=None,
        metavar="DIR|off",
        help=f"where compiled programs are kept for later runs (default ${compile_cache.ENV}, "
        "else $JAX_COMPILATION_CACHE_DIR, else ~/.cache/jaxdl/xla); off: compile every time",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args, overrides = parse_args(argv)
        if args.help and not args.recipe:
            build_parser().print_help()
            return 0
        if args.list or not args.recipe:
            for name in recipes():
                print(f"{name:20s} configs: {', '.join(config_names(name))}")
            return 0 if args.list else USAGE
        if args.recipe not in recipes():
            raise ConfigError(
                f"There is no recipe {args.recipe!r}; choose one of {', '.join(recipes())}."
            )
        config = load_config(args.recipe, args.config)
        for field, value in overrides:
            apply_override(config, field, value)
        if args.help:  # the fields as this command line would run them
            print(describe_fields(args.recipe, args.config, config))
            return 0
        validate(config)
        workdir = args.workdir or os.path.join("runs", args.recipe)
        cache = compile_cache.resolve_cache_dir(args.compilation_cache)
        if cache is not None:
            compile_cache.enable_compilation_cache(cache)
        compile_cache.listen()
        # Before the recipe's imports, which may start JAX (gymnax does) and fix the count.
        _common.request_cpu_devices(config)
        module = importlib.import_module(f"{__package__}.{args.recipe}.train")
        summary = module.train_and_evaluate(config, workdir)
        compiled = record_compilation(workdir)
        check_finite(summary["metrics"])
    # jaxdl's functions reject bad arguments with ValueError / TypeError whose message
    # names the argument; from here that is a config value, so it is a usage error.
    except (JaxdlError, ValueError, TypeError, OSError) as e:
        if os.environ.get("JAXDL_DEBUG"):
            raise
        print(f"error: {_sentence(e)}", file=sys.stderr)
        usage = isinstance(e, ConfigError | UsageError | ValueError | TypeError)
        return USAGE if usage and not isinstance(e, FAILURES) else FAILURE
    print(f"\n{args.recipe} ({args.config}) finished in {summary['wall_time_s']:.0f} s")
    for key, value in summary["metrics"].items():
        print(f"  {key:24s} {value:.4f}" if isinstance(value, float) else f"  {key:24s} {value}")
    print(f"  compiled in {compiled['compile_s']:.1f} s ({_cache_line(compiled)})")
    print(f"  results in {as_path(workdir) / 'summary.json'}")
    print(json.dumps({k: v for k, v in summary["metrics"].items() if k.startswith("test_")}))
    return 0


def record_compilation(workdir: str) -> dict:
    """Adds this process's compilation times and cache use to ``summary.json`` (as
    ``compilation``; process 0 writes the summary, the others have none) and returns them."""
    stats = compile_cache.compilation_stats()
    path = as_path(workdir) / "summary.json"
    if path.exists():
        summary = json.loads(path.read_text())
        path.write_text(json.dumps(summary | {"compilation": stats}, indent=2) + "\n")
    return stats


def _cache_line(stats: dict) -> str:
    if stats["cache_dir"] is None:
        return "no compilation cache"
    return (
        f"{stats['cache_hits']} programs loaded from the cache in {stats['cache_dir']}, "
        f"{stats['cache_writes']} compiled and stored"
    )


def check_finite(metrics: dict) -> None:
    """Raises :class:`NonFiniteLossError` when a final metric is NaN or infinite: a run
    whose result is NaN failed, whatever it printed on the way."""
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise NonFiniteLossError(
            f"The run finished, but its final {', '.join(bad)} is {metrics[bad[0]]}; lower "
            "the learning rate or check the inputs (summary.json keeps the run's numbers)."
        )


def _sentence(error: BaseException) -> str:
    """The message of ``error`` as one line; an ``OSError`` from outside jaxdl is said
    with its file and reason."""
    if isinstance(error, OSError) and not isinstance(error, JaxdlError):
        reason = error.strerror or str(error)
        return f"{error.filename}: {reason}." if error.filename else f"{reason}."
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
