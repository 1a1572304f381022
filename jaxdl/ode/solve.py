"""``odeint``: adaptive diffrax solves, solver and adjoint as objects, failures as one sentence.

torchdiffeq's ``odeint`` / ``odeint_adjoint`` map onto this as::

    options = SolveOptions(
        solver=diffrax.Dopri5(), rtol=1e-7, atol=1e-9, adjoint=diffrax.BacksolveAdjoint()
    )
    odeint(f, y0, ts, options=options)

``diffrax.BacksolveAdjoint()`` is torchdiffeq's ``odeint_adjoint``: the backward pass
solves the adjoint ODE backwards in time (memory O(1) in the number of steps, but the
gradient is only as accurate as that second solve). ``diffrax.RecursiveCheckpointAdjoint()``
(diffrax's default, and this module's) differentiates through the solver's own steps with
recursive checkpointing: the exact gradient of the computed solution, which needs a
finite ``max_steps``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from jaxdl.errors import ODESolveError
from jaxdl.ode._validate import concrete, prepare


@dataclasses.dataclass(frozen=True, kw_only=True)
class SolveOptions:
    """How :func:`odeint` and :func:`solve` integrate: diffrax objects and tolerances.

    Checked once, when built. Frozen and free of arrays: build one from a config, then
    close over it in every jitted function that solves (not a static jit argument:
    ``diffrax.BacksolveAdjoint`` holds a dict, so it does not hash).

    Attributes:
      solver: an adaptive diffrax solver, e.g. ``diffrax.Tsit5()`` (the default),
        ``diffrax.Dopri5()`` or ``diffrax.Dopri8()``; a PID controller picks its steps.
      adjoint: how gradients flow through the solve: ``diffrax.RecursiveCheckpointAdjoint()``
        (the default) or ``diffrax.BacksolveAdjoint()`` (torchdiffeq's ``odeint_adjoint``;
        its backward solve reuses the forward solver and tolerances, as torchdiffeq does).
        With ``BacksolveAdjoint`` only ``y0`` and ``args`` get gradients.
      rtol, atol: the step-size controller's tolerances.
      max_steps: the step limit of the solve, an integer >= 1.
      dt0: the first step size; ``None`` lets diffrax choose it.

    Raises:
      TypeError: ``solver`` or ``adjoint`` is not a diffrax object (e.g. a name).
      ValueError: ``max_steps`` is not an integer >= 1.

    Example:
      >>> import diffrax
      >>> SolveOptions(solver=diffrax.Dopri5(), rtol=1e-7, atol=1e-9).adjoint
      RecursiveCheckpointAdjoint()
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
    rtol: float = 1e-6
    atol: float = 1e-6
    max_steps: int = 4096
    dt0: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.solver, diffrax.AbstractSolver):
            raise TypeError(
                f"solver is {self.solver!r}, expected a diffrax solver such as diffrax.Tsit5()."
            )
        if not isinstance(self.adjoint, diffrax.AbstractAdjoint):
            raise TypeError(
                f"adjoint is {self.adjoint!r}, expected a diffrax adjoint such as "
                "diffrax.RecursiveCheckpointAdjoint() or diffrax.BacksolveAdjoint()."
            )
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(f"max_steps is {self.max_steps!r}, expected an integer >= 1.")


_DEFAULT = SolveOptions()


def solve(
    f: Callable[[Any, jax.Array, Any], jax.Array],
    y0: Float[ArrayLike, "*state"],
    ts: Float[ArrayLike, " times"],
    *,
    args: Any = None,
    options: SolveOptions = _DEFAULT,
) -> diffrax.Solution:
    """The diffrax ``Solution`` behind :func:`odeint`, unchecked (``throw=False``).

    Use it for the statistics (``sol.stats["num_steps"]``) or to handle ``sol.result``
    yourself; :func:`odeint` is the same solve plus the error checks.

    Args:
      f, y0, ts, args, options: as for :func:`odeint`.

    Returns:
      diffrax's ``Solution``: ``sol.ys`` of shape ``(T, *y0.shape)`` (``inf`` where the
      solve failed), ``sol.result`` and ``sol.stats``.

    Raises:
      ValueError: non-increasing ``ts``, a vector field returning the wrong shape.
      TypeError: ``options`` is not a :class:`SolveOptions`.

    Example:
      >>> import jax.numpy as jnp
      >>> sol = solve(lambda t, y, a: -y, jnp.ones(2), jnp.array([0.0, 1.0]))
      >>> sol.ys.shape, bool(sol.stats["num_steps"] > 0)
      ((2, 2), True)
    """
    if not isinstance(options, SolveOptions):
        raise TypeError(f"options is {options!r}, expected a jaxdl.ode.SolveOptions.")
    y0, ts = prepare(f, y0, ts, args)
    return diffrax.diffeqsolve(
        diffrax.ODETerm(f),
        options.solver,
        t0=ts[0],
        t1=ts[-1],
        dt0=options.dt0,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=options.rtol, atol=options.atol),
        adjoint=options.adjoint,
        max_steps=options.max_steps,
        throw=False,
    )


def _failure_message(sol: diffrax.Solution, max_steps: int, t1: float | None) -> str:
    """One sentence for a failed ``sol``; names the step limit when that is the cause."""
    until = f" before t = {t1:g}" if t1 is not None else " before the last save time"
    hit_limit = concrete(sol.result == diffrax.RESULTS.max_steps_reached)
    if hit_limit is not None and bool(hit_limit.any()):
        return (
            f"The ODE solve used all max_steps={max_steps} steps{until}; raise max_steps, "
            "loosen rtol/atol, or check that the vector field does not blow up."
        )
    if hit_limit is None:  # traced: the cause is only known at run time
        return (
            f"The ODE solve stopped{until} (the step limit max_steps={max_steps} was reached, "
            "or the step size underflowed); raise max_steps or loosen rtol/atol."
        )
    return (
        f"The ODE solve stopped{until} ({sol.result}); the step size underflowed or the "
        "state became non-finite: check the vector field, or loosen rtol/atol."
    )


def odeint(
    f: Callable[[Any, jax.Array, Any], jax.Array],
    y0: Float[ArrayLike, "*state"],
    ts: Float[ArrayLike, " times"],
    *,
    args: Any = None,
    options: SolveOptions = _DEFAULT,
    throw: bool = True,
) -> Float[Array, " times *state"]:
    r"""Solves ``dy/dt = f(t, y, args)``, ``y(ts[0]) = y0`` and returns ``y`` at every ``ts``.

    An adaptive explicit Runge–Kutta solve (diffrax, PID step-size controller) from
    ``ts[0]`` to ``ts[-1]``, saving the dense solution at ``ts``.

    Differentiable with respect to ``y0`` and ``args`` (``jax.grad``, ``jax.vjp``);
    trainable parameters belong in ``args``: with ``diffrax.BacksolveAdjoint()`` only
    ``y0`` and ``args`` get gradients (arrays closed over by ``f`` do not). Works under
    ``jit`` and ``vmap`` (e.g. over a batch of ``y0``).

    Args:
      f: vector field ``f(t, y, args)`` returning ``dy/dt`` with ``y``'s shape.
      y0: initial state at ``ts[0]``; integer input is promoted to float.
      ts: strictly increasing save times, shape ``(T,)``, ``T >= 2``.
      args: parameters passed to ``f``.
      options: the diffrax solver and adjoint, tolerances and step limit
        (:class:`SolveOptions`; the default is Tsit5 at ``rtol = atol = 1e-6``).
      throw: raise on a failed solve. Outside ``jit`` it raises
        :class:`~jaxdl.errors.ODESolveError`; inside ``jit`` the failure can only be
        detected at run time and surfaces as a ``JaxRuntimeError`` carrying the same
        sentence, which :func:`solve_errors` turns back into ``ODESolveError``. The
        check hangs on the returned values: under ``jax.grad`` alone (the value
        discarded) it is dropped, so train with ``jax.value_and_grad``. With
        ``throw=False`` the entries of a failed solve are ``inf``.

    Returns:
      ``ys`` of shape ``(T, *y0.shape)``.

    Raises:
      ValueError: non-increasing ``ts``, a vector field returning the wrong shape.
      TypeError: ``options`` is not a :class:`SolveOptions`.
      ODESolveError: the solve stopped early (step limit, step size underflow).

    Example:
      >>> import jax.numpy as jnp
      >>> ys = odeint(lambda t, y, k: -k * y, jnp.ones(2), jnp.array([0.0, 1.0]), args=2.0)
      >>> bool(jnp.allclose(ys[-1], jnp.exp(-2.0), rtol=1e-4))
      True
    """
    sol = solve(f, y0, ts, args=args, options=options)
    ys = sol.ys
    if not throw:
        return ys
    ok = sol.result == diffrax.RESULTS.successful
    ok_value = concrete(ok)
    t_end = concrete(jnp.asarray(ts)[-1])  # the requested end (sol.ts holds inf on failure)
    t1 = float(t_end) if t_end is not None and t_end.ndim == 0 else None
    if ok_value is None:
        message = _failure_message(sol, options.max_steps, None)
        return eqx.error_if(ys, jnp.logical_not(ok), message)
    if not bool(ok_value.all()):
        raise ODESolveError(_failure_message(sol, options.max_steps, t1))
    return ys


_MESSAGE = re.compile(r"(The ODE solve [^\n]*?\.)(?:\n|$)")


@contextlib.contextmanager
def solve_errors() -> Iterator[None]:
    """Re-raises a failed solve inside ``jit`` as one-sentence :class:`ODESolveError`.

    A solve that fails inside a compiled function is only detected when it runs, and
    JAX reports it as a long ``JaxRuntimeError`` from a callback. Wrap the loop that
    calls the compiled function::

        with solve_errors():
            state = train_step(state)
    """
    # JAX also logs the callback's traceback (with equinox's advice to use filter_jit)
    # before raising; the sentence below says it all, so that log is muted meanwhile.
    callback_log = logging.getLogger("jax._src.callback")
    level = callback_log.level
    callback_log.setLevel(logging.CRITICAL)
    try:
        yield
    except jax.errors.JaxRuntimeError as e:
        match = _MESSAGE.search(str(e))
        if match is None:
            raise
        raise ODESolveError(match.group(1)) from None
    finally:
        callback_log.setLevel(level)
