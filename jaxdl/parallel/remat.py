"""Activation checkpointing per block: what the backward pass keeps and what it recomputes.

Models take the policy as an object: ``None`` (no checkpointing) or a
``jax.checkpoint`` policy such as ``jax.checkpoint_policies.nothing_saveable``.
:func:`remat_policy` turns the names a config uses into those objects:

``"off"``: no checkpointing, every activation is kept. ``"nothing"``: a block keeps only
its input and recomputes the rest in the backward pass (the least memory, one extra
forward). ``"dots"``: keeps the results of matmuls and convolutions without batch
dimensions and recomputes the cheap elementwise work around them. ``"everything"``:
checkpointed but keeps all, the same memory as ``"off"`` (a control for measurements).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

# A jax.checkpoint policy: ``policy(primitive, *avals, **params) -> bool`` (save or not).
Policy = Callable[..., bool]

REMAT_POLICIES: dict[str, Policy | None] = {
    "off": None,
    "nothing": jax.checkpoint_policies.nothing_saveable,
    "dots": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    "everything": jax.checkpoint_policies.everything_saveable,
}


def remat_policy(name: str) -> Policy | None:
    """The checkpoint policy a config names: ``None`` for ``"off"``, else a ``jax.checkpoint``
    policy.

    Args:
      name: ``"off"``, ``"nothing"``, ``"dots"`` or ``"everything"``.

    Returns:
      what the models' ``remat`` arguments take.

    Raises:
      ValueError: ``name`` is not one of those.

    Example:
      >>> remat_policy("off") is None, remat_policy("nothing").__name__
      (True, 'nothing_saveable')
    """
    if not isinstance(name, str) or name not in REMAT_POLICIES:
        raise ValueError(f"remat is {name!r}, expected one of {', '.join(REMAT_POLICIES)}.")
    return REMAT_POLICIES[name]


def check_policy(policy: Policy | None, *, name: str = "remat") -> Policy | None:
    """``policy`` if it is ``None`` or callable.

    Raises:
      TypeError: anything else, e.g. a policy's name (map it with :func:`remat_policy`).
    """
    if policy is not None and not callable(policy):
        raise TypeError(
            f"{name} is {policy!r}, expected None or a jax.checkpoint policy "
            "(e.g. jaxdl.parallel.remat_policy('nothing'))."
        )
    return policy


def remat_call(policy: Policy | None, fn: Callable) -> Callable:
    """``fn(module, *args)`` with ``jax.checkpoint`` and ``policy`` (``None``: as is).

    The module goes in as its graph and state arrays and is rebuilt inside the
    checkpoint, so this works for any NNX module whose call changes no variables
    (BatchNorm in training mode does; GroupNorm, LayerNorm and dropout with explicit
    keys do not).

    Args:
      policy: a ``jax.checkpoint`` policy, or ``None`` for no checkpointing.
      fn: ``fn(module, *args)``, the computation to checkpoint.

    Returns:
      ``fn`` itself when ``policy`` is ``None``, else a function of ``(module, *args)``
      that returns what ``fn`` does.

    Example:
      >>> f = lambda module, x: module(x)
      >>> remat_call(None, f) is f
      True
    """
    if policy is None:
        return fn

    def call(module, *args):
        graphdef, state = nnx.split(module)

        def pure(state, *args):
            return fn(nnx.merge(graphdef, state), *args)

        return jax.checkpoint(pure, policy=policy)(state, *args)

    return call


def scan_blocks(
    blocks: Sequence[nnx.Module],
    call: Callable,
    carry: Any,
    per_block: Any = None,
    *,
    policy: Policy | None = jax.checkpoint_policies.nothing_saveable,
) -> tuple[Any, Any]:
    """``carry, y_i = call(block_i, carry, per_block[i])`` over structurally identical
    blocks, as one ``lax.scan`` whose step is checkpointed with ``policy`` (``None``: not
    checkpointed).

    The blocks keep their own parameters (a pretrained checkpoint still loads block by
    block); they are stacked for the scan and the gradient flows back to each. Why a
    scan rather than a checkpoint around each block of an unrolled loop: XLA's CPU
    scheduler hoists the unrolled blocks' recomputation ahead of the backward pass and
    keeps it all alive, so per-block checkpointing there saves nothing (measured: a
    12-block MLP stack used 26 MB unrolled, 38 MB with checkpoints, 17 MB as a
    checkpointed scan). Inside a scan each step's recomputation happens in its own
    iteration on every backend.

    Returns the final carry and the stacked ``y``.
    """
    graphdef = nnx.graphdef(blocks[0])
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *[nnx.state(b) for b in blocks])

    def body(carry, xs):
        state, x = xs
        return call(nnx.merge(graphdef, state), carry, x)

    if policy is not None:
        body = jax.checkpoint(body, policy=policy)
    return jax.lax.scan(body, carry, (stacked, per_block))
