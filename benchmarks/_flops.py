"""FLOPs of a whole compiled program with loops: XLA's count, with each loop body counted
as many times as the loop runs.

XLA's cost analysis counts a ``while`` body once, whatever its trip count
(:func:`benchmarks._harness.step_cost` refuses such programs for that reason). Where the
timed program is a loop, or holds loops (a scan over updates that holds a scan over
epochs that holds a scan over minibatches), :func:`program_cost` walks its jaxpr instead:

    total(f) = once(f) + sum over the loops L of f of
               [trips(L) * total(body(L)) - copies(L) * once(body(L))]

where ``once(g)`` is XLA's count of ``g`` compiled by itself (each loop body in it counted
once) and ``copies(L)`` is how many copies of the body the compiled loop holds (1, or
more with ``scan(unroll=...)``). Trip counts of ``scan`` (``lax.map``, ``fori_loop`` with
static bounds) are in the jaxpr; a ``while_loop``'s depends on the data and must be given
(``while_trips``), as the program's caller counted them.

Bytes accessed are XLA's too, and only indicative: it counts an in-place update of a large
array (a scatter into an embedding table each trip) as touching the whole array. Only the
FLOPs feed the table's fraction of peak.

Approximations, both small for the benchmarks here: XLA hoists loop-invariant work out of
a loop, which a body compiled by itself repeats each trip (an overcount of that work
times trips - 1); a ``while_loop``'s condition is counted ``trips + 1`` times like its body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
from jax.extend import core as jex_core

from benchmarks._harness import flops_record, step_cost

_LOOPS = ("scan", "while")
# Primitives whose sub-jaxprs run at most once per call but may not run at all.
_BRANCHING = ("cond",)


def _as_closed(j: Any) -> jex_core.ClosedJaxpr:
    return j if isinstance(j, jex_core.ClosedJaxpr) else jex_core.ClosedJaxpr(j, ())


def _sub_jaxprs(value: Any) -> Iterator[jex_core.ClosedJaxpr]:
    if isinstance(value, jex_core.ClosedJaxpr | jex_core.Jaxpr):
        yield _as_closed(value)
    elif isinstance(value, tuple | list):
        for v in value:
            yield from _sub_jaxprs(v)


def _loops(jaxpr: jex_core.Jaxpr) -> Iterator[jex_core.JaxprEqn]:
    """The loop equations of ``jaxpr`` that run once per call of it: its own and those
    inside calls (``jit``, ``custom_vjp``, ``remat``...), not those inside other loops."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in _LOOPS:
            yield eqn
            continue
        for sub in (s for v in eqn.params.values() for s in _sub_jaxprs(v)):
            inner = list(_loops(sub.jaxpr))
            if inner and eqn.primitive.name in _BRANCHING:
                raise ValueError(
                    f"a loop inside {eqn.primitive.name!r} runs only if its branch is taken; "
                    "expected loops outside conditionals (cost the branches separately)."
                )
            yield from inner


def _once(closed: jex_core.ClosedJaxpr) -> dict[str, float]:
    args = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in closed.jaxpr.invars]
    return step_cost(jex_core.jaxpr_as_fun(closed), *args, single_trip_loops=True)


def _scan_copies(length: int, unroll: int | bool) -> int:
    """Copies of the body in a lowered ``scan`` (``jax``'s ``_scan_impl``): ``unroll`` in
    the loop plus the remainder peeled off, or all ``length`` when fully unrolled."""
    unroll = length if unroll is True else int(unroll)
    if unroll in (0, 1):
        return length if unroll == 0 else 1
    trips, remainder = divmod(length, unroll)
    return length if trips <= 1 and remainder == 0 else (unroll if trips else 0) + remainder


def _add(a: dict[str, float], b: dict[str, float], scale: float = 1.0) -> None:
    for k, v in b.items():
        a[k] = a.get(k, 0.0) + scale * v


def _total(
    closed: jex_core.ClosedJaxpr, trips: Iterator[int], log: list
) -> tuple[dict[str, float], dict[str, float]]:
    """``(total, once)`` costs of ``closed`` (see the module docstring)."""
    once = _once(closed)
    out = dict(once)
    for eqn in _loops(closed.jaxpr):
        if eqn.primitive.name == "scan":
            n = eqn.params["length"]
            parts = [(eqn.params["jaxpr"], n, _scan_copies(n, eqn.params.get("unroll", 1)))]
        else:
            n = next(trips, None)
            if n is None:
                raise ValueError("while_trips has too few counts for the program's while loops.")
            parts = [(eqn.params["body_jaxpr"], n, 1), (eqn.params["cond_jaxpr"], n + 1, 1)]
        per_trip = 0.0
        for body, count, copies in parts:
            body_total, body_once = _total(_as_closed(body), trips, log)
            _add(out, body_total, count)
            _add(out, body_once, -copies)
            per_trip += body_total["flops"]
        log.append((eqn.primitive.name, n, per_trip))
    return out, once


def program_cost(
    fn: Callable[..., Any], *args: Any, while_trips: Sequence[int] = (), **kwargs: Any
) -> dict[str, Any]:
    """XLA's FLOP and byte counts of one call of ``fn(*args, **kwargs)``, loops included.

    Args:
      fn: a function of arrays (or a ``jax.jit`` of one); ``kwargs`` are bound, not traced.
      *args: arrays or ``jax.ShapeDtypeStruct`` (only shapes and dtypes count).
      while_trips: the trip count of each ``while_loop`` (not ``scan``) in the program, in
        the order the jaxpr holds them, depth first; a loop nested in another gets one
        count for all its runs (so give the mean per run).

    Returns:
      :func:`~benchmarks._harness.step_cost`'s dict for the whole call, plus ``"loops"``:
      ``[(kind, trips, flops per trip), ...]``, inner loops before the loop holding them
      (a ``while_loop``'s trip includes its condition).

    Raises:
      ValueError: if ``while_trips`` does not have one count per ``while_loop``, or a
        loop sits inside a conditional.
    """
    closed = jax.make_jaxpr(lambda *a: fn(*a, **kwargs))(*args)
    trips, log = iter(while_trips), []
    out: dict[str, Any] = _total(closed, trips, log)[0]
    if next(trips, None) is not None:
        raise ValueError(f"while_trips={list(while_trips)} has more counts than while loops.")
    out["loops"] = log
    return out


def program_record(
    cost: Mapping[str, Any], seconds: float, *, steps: float = 1, note: str | None = None
) -> dict[str, Any]:
    """:func:`~benchmarks._harness.flops_record` of ``steps`` calls of a program costed by
    :func:`program_cost` that took ``seconds`` in all, saying how the count was made."""
    out = flops_record(cost, steps, seconds)
    out["source"] = "XLA cost analysis, each loop body times its trip count (benchmarks/_flops.py)"
    if "loops" in cost:
        out["loops"] = [list(loop) for loop in cost["loops"]]
    if note:
        out["note"] = note
    return out
