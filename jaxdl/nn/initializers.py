"""Parameter initialisers that are safe to ``vmap`` on XLA:CPU.

``jax.nn.initializers.orthogonal`` draws a Gaussian matrix and takes its QR
factorisation. Under ``vmap`` (many seeds, e.g. ``jax.vmap(init)(keys)``) that becomes a
*batched* QR, which jaxlib's CPU LAPACK kernels split over XLA's intra-op thread pool and
then wait for from inside that same pool. Two such QRs that XLA runs at the same time
(the actor's and the critic's layers are independent) can each hold a pool thread while
waiting for work only a free thread could run: on a machine with two cores the program
then deadlocks, every thread idle (seen with jax 0.10.2 in one call out of a few for
PPO's ``jit(vmap(train))``; native stacks in ``lapack_sgeqrf_ffi`` ->
``ParallelBatchMap`` -> ``BlockingCounter::Wait``). :func:`orthogonal` returns exactly
the same numbers, but under ``vmap`` it factorises the matrices one after another in a
``lax.map``: an unbatched QR runs on the calling thread and never waits for the pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

Initializer = Callable[..., jax.Array]


def unbatched_under_vmap(fn: Callable[[jax.Array], Any]) -> Callable[[jax.Array], Any]:
    """``fn(x)``, but ``vmap`` of it loops over the batch (``lax.map``) instead of batching.

    For functions whose batched form is slow or unsafe (jaxlib's CPU LAPACK kernels, see
    the module docstring); the values are those of calling ``fn`` on each example.

    Args:
      fn: a function of one array (or key) argument.

    Returns:
      A function with ``fn``'s values whose batching rule is a sequential loop.

    Example:
      >>> qr_q = unbatched_under_vmap(lambda a: jnp.linalg.qr(a)[0])
      >>> jax.vmap(qr_q)(jnp.ones((3, 4, 4)) + jnp.eye(4)).shape
      (3, 4, 4)
    """

    @custom_vmap
    def wrapped(x):
        return fn(x)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, x):
        # Called only when vmap batches x (the one argument), so in_batched is [True].
        del axis_size, in_batched
        out = jax.lax.map(wrapped, x)
        return out, jax.tree.map(lambda _: True, out)

    return wrapped


def orthogonal(scale: float = 1.0, column_axis: int = -1) -> Initializer:
    """``jax.nn.initializers.orthogonal(scale, column_axis)``, safe under ``vmap`` on CPU.

    A (semi-)orthogonal matrix times ``scale``: the Q factor of a Gaussian matrix with the
    signs of R's diagonal folded in (Saxe et al. 2014). The values are bit-identical to
    JAX's initialiser for every key, batched or not; only the batching differs (see the
    module docstring).

    Args:
      scale: the gain multiplying the orthogonal matrix.
      column_axis: the axis of the output's columns.

    Returns:
      ``init(key, shape, dtype=jnp.float32)``, an initialiser for arrays of rank >= 2.

    Example:
      >>> w = orthogonal(2.0)(jax.random.key(0), (4, 3))
      >>> bool(jnp.allclose(w.T @ w, 4.0 * jnp.eye(3), atol=1e-5))
      True
    """
    base = jax.nn.initializers.orthogonal(scale, column_axis)

    def init(key: jax.Array, shape, dtype: Any = jnp.float32, out_sharding=None) -> jax.Array:
        del out_sharding  # the initialiser of one seed is small; it is never sharded
        return unbatched_under_vmap(lambda k: base(k, shape, dtype))(key)

    return init
