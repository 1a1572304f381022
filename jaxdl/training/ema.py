"""An exponential moving average of the parameters, kept in the optimiser state.

Keeping the average inside ``opt_state`` means :class:`TrainState`, the compiled epochs
and the orbax checkpoints carry it with no extra plumbing, and a resumed run continues
the same average.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class EmaState(NamedTuple):
    """The number of updates seen and the averaged parameters."""

    count: jax.Array
    ema: Any


def track_ema(decay: float, *, warmup: bool = True) -> optax.GradientTransformation:
    r"""Tracks :math:`\bar\theta \leftarrow d\,\bar\theta + (1 - d)\,\theta` after each update.

    Put it last in an ``optax.chain``: it sees the final updates, averages the updated
    parameters and passes the updates on unchanged. With ``warmup`` the decay is
    :math:`\min(d, (1 + n) / (10 + n))` at update ``n``, so early, poor weights are
    forgotten quickly (the schedule of TensorFlow's ``ExponentialMovingAverage``
    with ``num_updates``).

    Args:
      decay: the decay :math:`d`, in ``[0, 1)``.
      warmup: whether to use the smaller decay :math:`(1 + n) / (10 + n)` early on.

    Returns:
      An ``optax.GradientTransformation`` whose state is an :class:`EmaState`; its
      ``update`` needs ``params`` and raises ``ValueError`` without them.

    Raises:
      ValueError: if ``decay`` is not in ``[0, 1)``.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> tx = optax.chain(optax.sgd(1.0), track_ema(0.5, warmup=False))
      >>> params = {"w": jnp.zeros(())}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array(-2.0)}, state, params)
      >>> float(ema_params(state)["w"])  # 0.5 * 0 + 0.5 * 2
      1.0
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay is {decay}, expected 0 <= decay < 1.")

    def init(params: Any) -> EmaState:
        return EmaState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.copy, params))

    def update(updates: Any, state: EmaState, params: Any = None) -> tuple[Any, EmaState]:
        if params is None:
            raise ValueError(
                "track_ema needs the parameters: call tx.update(updates, state, params)."
            )
        count = state.count + 1
        d = jnp.minimum(decay, (1.0 + count) / (10.0 + count)) if warmup else jnp.float32(decay)
        new = optax.apply_updates(params, updates)
        ema = jax.tree.map(lambda e, p: d * e + (1 - d) * p, state.ema, new)
        return updates, EmaState(count, ema)

    return optax.GradientTransformation(init, update)


def ema_params(opt_state: Any) -> Any:
    """The averaged parameters inside ``opt_state`` (which must hold one :class:`EmaState`).

    Args:
      opt_state: an optimiser state (any pytree) from a chain that contains
        :func:`track_ema` once.

    Returns:
      The averaged parameters, a pytree with the structure and shapes of the params.

    Raises:
      ValueError: if ``opt_state`` holds no :class:`EmaState` or more than one.

    Example:
      >>> import jax.numpy as jnp
      >>> state = track_ema(0.9).init({"w": jnp.ones(2)})
      >>> ema_params(state)["w"].tolist()
      [1.0, 1.0]
    """
    found = [
        s
        for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, EmaState))
        if isinstance(s, EmaState)
    ]
    if len(found) != 1:
        raise ValueError(
            f"opt_state holds {len(found)} EmaState, expected exactly one (add track_ema to the "
            "optimiser chain once)."
        )
    return found[0].ema
