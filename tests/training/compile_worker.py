"""Compiles the same ``N`` small programs as every other copy of itself, into one cache.

``python -m tests.training.compile_worker CACHE_DIR START_AT N``: turns the persistent
cache on in ``CACHE_DIR``, sleeps until the wall-clock time ``START_AT`` (so that two
copies compile, and write, the same entries at the same moment), compiles ``N``
programs, checks their results and prints :func:`compilation_stats` as JSON.
"""

from __future__ import annotations

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.training.compile_cache import compilation_stats, enable_compilation_cache


def main(cache_dir: str, start_at: float, n: int) -> None:
    enable_compilation_cache(cache_dir)
    time.sleep(max(0.0, start_at - time.time()))
    x = jnp.arange(64.0).reshape(8, 8)
    for k in range(n):
        # A different constant and depth per k: n different programs, big enough that
        # an entry is written in several pieces.
        def f(a, k=k):
            for _ in range(k % 4 + 1):
                a = jnp.tanh(a @ a.T / 64.0 + k)
            return a

        got = np.asarray(jax.jit(f)(x))
        np.testing.assert_allclose(got, np.asarray(f(x)), rtol=1e-5, atol=1e-6)
    print(json.dumps(compilation_stats()))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
