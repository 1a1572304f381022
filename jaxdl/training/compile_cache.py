"""Compile once: JAX's persistent compilation cache, and how long a run spent compiling.

Importing jaxdl changes nothing; the recipes' entry point (``python -m train``) calls
:func:`enable_compilation_cache`, and so may any program. Then every XLA program a run
compiles is written to a folder on disk, and a later run (or the resume of a killed one)
that builds the same program loads it instead of compiling it again. Tracing and lowering
to StableHLO still happen each time: the cache key is a hash of the lowered program, its
devices, the compile options, XLA flags and the jax/jaxlib versions.

Concurrent runs: JAX 0.10's file cache (``jax._src.lru_cache.LRUCache`` without a size
limit) writes an entry with ``Path.write_bytes``, in place. Another process can read the
half-written file, and two processes that compile the same program at once both truncate
and write it; the payloads embed each one's compile time, so they can differ, and a run
killed mid-write leaves a truncated entry that JAX then never replaces. (With
``jax_compilation_cache_max_size`` set, JAX serialises reads and writes with the
``filelock`` package, which jaxdl does not depend on, and a killed write still leaves a
truncated file.) So :func:`enable_compilation_cache` installs :class:`AtomicFileCache`,
which writes each entry to a temporary file in the same folder and renames it into place
(``os.replace``, atomic on POSIX and Windows): a reader sees no entry or a whole one,
concurrent writers of one key each put a whole entry there and the last rename wins.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import jax

#: ``DIR`` or ``off``: where ``python -m train`` keeps compiled programs (default
#: :func:`default_cache_dir`).
ENV = "JAXDL_COMPILATION_CACHE"
#: Values of :data:`ENV` (or of ``--compilation-cache``) that turn the cache off.
OFF = frozenset({"off", "0", "false", "no", "none"})
_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_s",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_s",
    # Around compile-or-load: on a cache hit, the time to read and deserialise the entry.
    "/jax/core/compile/backend_compile_duration": "backend_s",
}
_COUNTS = {
    "/jax/compilation_cache/cache_hits": "cache_hits",
    "/jax/compilation_cache/cache_misses": "cache_writes",
}
_totals: dict[str, float] = {}
_lock = threading.Lock()
_listening = False


def default_cache_dir() -> Path:
    """``$JAXDL_CACHE_DIR/xla``, else ``$XDG_CACHE_HOME/jaxdl/xla``, else
    ``~/.cache/jaxdl/xla`` (next to the records folders of ``jaxdl.data.records``)."""
    root = os.environ.get("JAXDL_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(base, "jaxdl")
    return Path(root) / "xla"


def resolve_cache_dir(setting: str | None = None) -> Path | None:
    """The folder a run should cache in, or ``None`` for no cache.

    The first that is set wins: ``setting`` (a command-line value), ``$JAXDL_COMPILATION_CACHE``,
    JAX's own ``$JAX_COMPILATION_CACHE_DIR``, then :func:`default_cache_dir`. A value in
    :data:`OFF` (any case) or an empty ``setting`` turns the cache off.

    >>> resolve_cache_dir("off") is None
    True
    >>> resolve_cache_dir("/tmp/xla")
    PosixPath('/tmp/xla')
    """
    for value in (setting, os.environ.get(ENV), os.environ.get("JAX_COMPILATION_CACHE_DIR")):
        if value is not None:
            value = value.strip()
            if not value or value.lower() in OFF:
                return None
            return Path(value).expanduser()
    return default_cache_dir()


def _lru_cache_class() -> Any:
    from jax._src import lru_cache

    return lru_cache.LRUCache


def _atomic_put(cache: Any, key: str, value: bytes) -> None:
    if not key:
        raise ValueError("key is empty, expected the cache key of a compiled program.")
    path = Path(cache.path) / f"{key}-cache"  # JAX's LRUCache names entries so
    if path.exists():
        return
    fd, tmp = tempfile.mkstemp(dir=cache.path, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_atomic_cache(path: str | os.PathLike) -> Any:
    """A JAX ``LRUCache`` over ``path`` (no size limit) whose ``put`` writes a temporary
    file and renames it into place, so that no process ever sees a partial entry.

    Reads are JAX's: an entry that exists is complete, because it only ever appears by
    rename.
    """

    class AtomicFileCache(_lru_cache_class()):
        put = _atomic_put

    return AtomicFileCache(os.fspath(path), max_size=-1)


def enable_compilation_cache(
    path: str | os.PathLike | None = None,
    *,
    min_compile_time_s: float = 0.0,
) -> Path:
    """Turns on JAX's persistent compilation cache in ``path`` for this process.

    Every program compiled from now on whose compilation took at least
    ``min_compile_time_s`` (default 0: all, however small) is stored there, and a program
    already stored is loaded instead of compiled. Entries are written atomically (see the
    module docstring), so concurrent runs may share the folder. jaxdl never calls this on
    import; ``python -m train`` does (``--compilation-cache=DIR|off`` or
    ``$JAXDL_COMPILATION_CACHE``).

    Args:
      path: a local folder (created if missing); default :func:`default_cache_dir`. A
        process killed while writing an entry leaves a ``.*.tmp`` file there, never a
        partial entry; such files can be deleted.
      min_compile_time_s: programs that compile faster are not stored (JAX's own default
        is 1 s, which would leave out most of a small recipe's programs).

    Returns:
      The folder.

    Raises:
      ValueError: if ``min_compile_time_s`` is negative.

    Example:
      >>> from jaxdl.training import enable_compilation_cache
      >>> enable_compilation_cache("/tmp/my_xla_cache")  # doctest: +SKIP
      PosixPath('/tmp/my_xla_cache')
    """
    if min_compile_time_s < 0:
        raise ValueError(f"min_compile_time_s={min_compile_time_s}, expected >= 0.")
    path = Path(default_cache_dir() if path is None else path).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    # -1: no minimum size, and JAX may not override it with a filesystem-specific one.
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    try:
        from jax._src import compilation_cache as cc

        cc.reset_cache()  # forget a cache JAX may have opened already (another folder)
        with cc._cache_initialized_mutex:
            cc._cache = make_atomic_cache(path)
            cc._cache_initialized = True
    except (ImportError, AttributeError) as e:  # a JAX whose internals moved
        warnings.warn(
            f"Using JAX's own compilation cache in {path}, whose writes are not atomic "
            f"({type(e).__name__}: {e}); do not run two jobs at once on it.",
            stacklevel=2,
        )
    listen()
    return path


def disable_compilation_cache() -> None:
    """Turns the persistent compilation cache off for this process (programs compiled
    from now on are neither loaded nor stored)."""
    jax.config.update("jax_enable_compilation_cache", False)
    from jax._src import compilation_cache as cc

    cc.reset_cache()


def listen() -> None:
    """Starts adding JAX's compilation events to :func:`compilation_stats` (once per
    process; JAX keeps its listeners for the process's life)."""
    global _listening
    with _lock:
        if _listening:
            return

        def add_duration(event: str, seconds: float, **_: Any) -> None:
            name = _EVENTS.get(event)
            if name is not None:
                with _lock:
                    _totals[name] = _totals.get(name, 0.0) + seconds

        def add_count(event: str, **_: Any) -> None:
            name = _COUNTS.get(event)
            if name is not None:
                with _lock:
                    _totals[name] = _totals.get(name, 0) + 1

        jax.monitoring.register_event_duration_secs_listener(add_duration)
        jax.monitoring.register_event_listener(add_count)
        _listening = True


def compilation_stats() -> dict[str, Any]:
    """What this process has compiled since :func:`listen` (all threads together).

    Returns:
      ``compile_s`` (the sum of the next three), ``trace_s`` (Python tracing to jaxprs),
      ``lower_s`` (jaxprs to StableHLO), ``backend_s`` (XLA compilation, or loading the
      program from the persistent cache), ``cache_hits`` (programs loaded from the cache),
      ``cache_writes`` (programs compiled and stored) and ``cache_dir`` (``None`` when the
      cache is off).
    """
    with _lock:
        stats = {name: round(_totals.get(name, 0.0), 3) for name in _EVENTS.values()}
        stats |= {name: int(_totals.get(name, 0)) for name in _COUNTS.values()}
    stats["compile_s"] = round(sum(stats[name] for name in _EVENTS.values()), 3)
    on = jax.config.jax_enable_compilation_cache and jax.config.jax_compilation_cache_dir
    stats["cache_dir"] = jax.config.jax_compilation_cache_dir if on else None
    return stats
