"""One persistent XLA compilation cache for a whole pytest session, and cheaper compiles.

The controller creates it and puts it in the environment, so that the xdist workers, the
notebook kernels (nbmake starts them with this environment) and the ``python -m train``
subprocesses of the tests all read and write it: many of them compile the same programs
(a recipe's quick run, the CLI's reference, killed and resumed runs, model initialisers).
A fresh directory per session (removed at its end) unless ``JAX_COMPILATION_CACHE_DIR`` is
already set, which is then used as it is.

It also sets ``JAXDL_SMOKE_TEST=1``, which the notebooks read to run every cell at their
smallest size (as BoTorch's and Pyro's tutorials do under their test suites): what they
show a reader is a real run, what the suite checks is that each cell works.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CACHE_DIR = "JAX_COMPILATION_CACHE_DIR"
# Cache every program, however small or quick to compile: most of this suite's are.
CACHE_ENV = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}
# LLVM optimisation of the compiled CPU code, off: the suite's programs run for milliseconds
# but take seconds to compile, and at level 0 they compile in about a third of the time (the
# name_sex quick train step: 43 -> 15 s, printing the same losses). A level already set in
# XLA_FLAGS is kept; `make bench` and `python -m train` outside pytest keep XLA's default.
OPT_LEVEL = "--xla_backend_optimization_level=0"
_OWNED = pytest.StashKey[str]()  # the directory this process made, and removes at the end


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        # The controller (or a run without xdist); a worker inherits its environment.
        if CACHE_DIR not in os.environ:
            config.stash[_OWNED] = os.environ[CACHE_DIR] = tempfile.mkdtemp(prefix="jaxdl_xla_")
        for name, value in CACHE_ENV.items():
            os.environ.setdefault(name, value)
        # `python -m train` caches in ~/.cache/jaxdl/xla by default: not from the tests.
        os.environ.setdefault("JAXDL_COMPILATION_CACHE", os.environ[CACHE_DIR])
        os.environ.setdefault("JAXDL_SMOKE_TEST", "1")
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_backend_optimization_level" not in flags:
            # Read when JAX starts its backend, which no test has done yet.
            os.environ["XLA_FLAGS"] = f"{flags} {OPT_LEVEL}".strip()
    import jax

    # JAX reads these variables when it is imported, which a conftest may have done already.
    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_DIR])
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
    )
    jax.config.update(
        "jax_persistent_cache_min_entry_size_bytes",
        int(os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"]),
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.stash.get(_OWNED, None)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
        os.environ.pop(CACHE_DIR, None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Each notebook runs its recipe end to end (20-60 s on 2 cores): slow, like the recipes'
    # own quick runs.
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
