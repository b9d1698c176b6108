"""Plans: what a client method asks the exchange, as generators that do no I/O.

A *plan* validates its arguments (raising
:class:`~kfresearch.errors.ValidationError` before anything is sent), yields
batches of :class:`Call` (requests that may run concurrently), receives their
decoded bodies, and returns its result: a DataFrame, an
:class:`~kfresearch.OrderResult`, a report. An error a call raised is thrown
back into the plan, which may handle it (look an order up after a timeout) or
let it propagate.

:func:`drive` runs a plan with blocking sends: a batch's calls side by side
on a small thread pool when one is given (the :class:`~kfresearch.Client`'s),
else one after another; :func:`drive_async` runs each batch with
``asyncio.gather``. Either way the transport keeps the rate budget, and a
plan asks for at most :data:`CONCURRENCY` calls at a time where it pages.
These two loops are the only difference between
:class:`~kfresearch.Client` and :class:`~kfresearch.AsyncClient`; every
decision lives in the plans (:mod:`kfresearch.queries`, :mod:`kfresearch.orders`).

Example
-------
>>> from kfresearch.endpoints import TICKERS
>>> def count_tickers() -> Plan[int]:
...     body = (yield [Call(TICKERS)])[0]
...     return len(body["tickers"])
>>> drive(count_tickers(), lambda call: {"tickers": [{}, {}]})
2
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kfresearch.endpoints import Endpoint
from kfresearch.errors import KFError

__all__ = ["CONCURRENCY", "Call", "Plan", "drive", "drive_async", "plan_single"]

T = TypeVar("T")

#: Requests a paging plan keeps in flight (and the threads of the blocking client's pool).
#: Public data costs no rate units (reference §6) but is not unlimited either: four at a
#: time hides the round trip without hammering the exchange.
CONCURRENCY = 4


@dataclass(frozen=True)
class Call:
    """One request: an endpoint of :mod:`kfresearch.endpoints` and its parameters."""

    endpoint: Endpoint
    params: dict[str, Any] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)


#: A plan that returns a ``T``: yields batches of calls, receives their bodies.
Plan = Generator[list[Call], list[Any], T]

#: Told every batch that succeeded (the client caches the instruments it sees).
Observer = Callable[[list[Call], list[Any]], None]


def plan_single(calls: Sequence[Call], build: Callable[..., T]) -> Plan[T]:
    """Send ``calls`` together and build the result from their bodies, in order."""
    bodies = yield list(calls)
    return build(*bodies)


def drive(
    plan: Plan[T],
    send: Callable[[Call], Any],
    seen: Observer | None = None,
    *,
    pool: Executor | None = None,
) -> T:
    """Run ``plan`` to its result with a blocking ``send``.

    A batch's calls run side by side on ``pool`` (threads; ``send`` must be
    thread-safe), or one after another without it. Every call of a batch
    finishes before the plan hears of it; the first error in the batch's order
    is thrown back into the plan, as :func:`drive_async` does.
    """
    try:
        calls = next(plan)
        while True:
            try:
                bodies = _send_all(calls, send, pool)
            except KFError as exc:
                calls = plan.throw(exc)
                continue
            if seen is not None:
                seen(calls, bodies)
            calls = plan.send(bodies)
    except StopIteration as done:
        result: T = done.value
        return result


def _send_all(calls: list[Call], send: Callable[[Call], Any], pool: Executor | None) -> list[Any]:
    if pool is None or len(calls) < 2:
        return [send(call) for call in calls]
    futures = [pool.submit(send, call) for call in calls]
    wait(futures)  # none left in flight when the plan decides what to do next
    return [future.result() for future in futures]


async def drive_async(
    plan: Plan[T], send: Callable[[Call], Awaitable[Any]], seen: Observer | None = None
) -> T:
    """Run ``plan`` to its result with an awaitable ``send``: each batch's calls concurrently."""
    import asyncio

    try:
        calls = next(plan)
        while True:
            try:
                bodies = list(await asyncio.gather(*(send(call) for call in calls)))
            except KFError as exc:
                calls = plan.throw(exc)
                continue
            if seen is not None:
                seen(calls, bodies)
            calls = plan.send(bodies)
    except StopIteration as done:
        result: T = done.value
        return result
