"""Neural ODEs: an MLP vector field (the seed's ``MyNeuralODE``) and the fits around it.

``NeuralODE`` is the vector field ``dy/dt = net(y)``; :func:`integrate` solves it with
:func:`jaxdl.ode.odeint`, passing the module's arrays as diffrax ``args`` so that every
adjoint (including the backsolve one, which only differentiates ``y0`` and ``args``)
sees the parameters. The fitting losses are pure functions of the module:

- :func:`trajectory_loss`: one solve from ``ys[0]`` over all of ``ts``;
- :func:`window_loss`: a batch of short windows of the trajectory, each solved from its
  own observed starting state, batched with ``jax.vmap`` (a shooting-style fit: short
  horizons give well-conditioned gradients early in training).

It lives in :mod:`jaxdl.ode`, not :mod:`jaxdl.nn`, so that ``import jaxdl.nn`` does not
load diffrax: a neural ODE is only useful with these solvers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank, check_trailing_shape
from jaxdl.losses import l2_distance
from jaxdl.ode.solve import SolveOptions, odeint

_DEFAULT = SolveOptions()
ACTIVATIONS = {"tanh": jnp.tanh, "softplus": jax.nn.softplus, "gelu": jax.nn.gelu}


class NeuralODE(nnx.Module):
    """An MLP vector field ``f(t, y) = net(y)``, autonomous like the seed's ``MyNeuralODE``.

    The seed's network is ``Linear(2, 16) -> Tanh -> Linear(16, 2)`` with weights drawn
    from ``N(0, 0.05^2)`` and zero biases: ``NeuralODE(2, (16,), init_std=0.05)``. The
    small weights make the initial field almost zero, which is why the seed's fit starts
    slowly. ``init_std=None`` uses Flax's default (LeCun normal) initialisation instead.

    Call it as a diffrax vector field, ``model(t, y, args)`` (``t`` and ``args`` are
    ignored), on any leading batch shape.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> model = NeuralODE(2, (16,), rngs=nnx.Rngs(0))
      >>> model(0.0, jnp.ones(2)).shape, model(0.0, jnp.ones((5, 2))).shape
      ((2,), (5, 2))
    """

    def __init__(
        self,
        features: int = 2,
        hidden: Sequence[int] = (16,),
        *,
        activation: str = "tanh",
        init_std: float | None = 0.05,
        rngs: nnx.Rngs,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation is {activation!r}, expected one of {', '.join(ACTIVATIONS)}."
            )
        self.features = features
        self.activation = activation
        widths = [features, *hidden, features]
        init = {} if init_std is None else {"kernel_init": nnx.initializers.normal(init_std)}
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, bias_init=nnx.initializers.zeros, rngs=rngs, **init)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
        )

    def __call__(
        self, t: Any, y: Float[Array, "*batch features"], args: Any = None
    ) -> Float[Array, "*batch features"]:
        check_trailing_shape("y", y, (self.features,))
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            y = act(layer(y))
        return self.layers[-1](y)


def integrate(
    model: NeuralODE,
    y0: Float[ArrayLike, "*batch features"],
    ts: Float[ArrayLike, " times"],
    *,
    options: SolveOptions = _DEFAULT,
) -> Float[Array, " times *batch features"]:
    """Solves the neural ODE from ``y0`` and returns the states at ``ts``.

    ``options`` (:class:`jaxdl.ode.SolveOptions`: solver, adjoint, tolerances, step
    limit) go to :func:`jaxdl.ode.odeint`. Differentiable with respect to the model's
    parameters under either adjoint. Times past the training interval extrapolate.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> model = NeuralODE(2, (16,), rngs=nnx.Rngs(0))
      >>> integrate(model, jnp.ones(2), jnp.linspace(0.0, 1.0, 5)).shape
      (5, 2)
    """
    graphdef, state = nnx.split(model)

    def field(t: Any, y: jax.Array, state: nnx.State) -> jax.Array:
        return nnx.merge(graphdef, state)(t, y)

    return odeint(field, y0, ts, args=state, options=options)


def trajectory_loss(
    model: NeuralODE,
    ts: Float[ArrayLike, " times"],
    ys: Float[ArrayLike, "times features"],
    *,
    options: SolveOptions = _DEFAULT,
) -> Float[Array, ""]:
    r"""Mean Euclidean error of a solve from ``ys[0]`` against the whole trajectory ``ys``.

    .. math:: L = \frac{1}{T} \sum_{k=1}^{T} \lVert \hat y(t_k) - y_k \rVert_2

    the seed's ``mean(norm(u - u_pred, dim=1))``, with a gradient that stays finite at
    ``t_0`` where the error is exactly zero (:func:`jaxdl.losses.l2_distance`).
    """
    ys = jnp.asarray(ys)
    check_rank("ys", ys, rank=2)
    pred = integrate(model, ys[0], ts, options=options)
    return l2_distance(pred, ys).mean()


def sample_windows(
    key: jax.Array, num_times: int, *, length: int, batch_size: int
) -> Int[Array, " batch"]:
    """``batch_size`` random start indices of windows of ``length`` points in ``num_times``."""
    if not 2 <= length <= num_times:
        raise ValueError(f"length is {length}, expected 2 <= length <= {num_times} (num_times).")
    return jax.random.randint(key, (batch_size,), 0, num_times - length + 1)


def window_loss(
    model: NeuralODE,
    ts: Float[ArrayLike, " times"],
    ys: Float[ArrayLike, "times features"],
    starts: Int[ArrayLike, " batch"],
    *,
    length: int,
    options: SolveOptions = _DEFAULT,
) -> Float[Array, ""]:
    """:func:`trajectory_loss` averaged over windows ``ys[s : s + length]`` for ``s`` in ``starts``.

    Each window is solved from its own observed first state; the windows are one
    ``jax.vmap`` of the solve (diffrax batches the adaptive steps).
    """
    ts, ys = jnp.asarray(ts), jnp.asarray(ys)
    check_rank("ys", ys, rank=2)

    def one(start: jax.Array) -> jax.Array:
        t_win = jax.lax.dynamic_slice_in_dim(ts, start, length)
        y_win = jax.lax.dynamic_slice_in_dim(ys, start, length)
        return trajectory_loss(model, t_win, y_win, options=options)

    return jax.vmap(one)(jnp.asarray(starts)).mean()
