"""Where the wire is tapped: the active traces and the two calls that feed them.

Every transport of kfresearch reports what it puts on the wire here, and only
while a :class:`~kfresearch.trace.Trace` is open: the hot paths test
``if RECORDERS:`` (one list's truth value) and do nothing else when no trace
is active.

Who calls what
--------------
* :meth:`kfresearch.transport.Core.exchange` calls :func:`record_http` once per
  attempt of every REST request (retries are separate records), with the
  rate-limit pool's level before and after. Both clients drive that one
  core, so the blocking and the async client are traced alike.
* :class:`kfresearch.stream.Stream` calls :func:`record_ws` for every text
  message it sends and every message it reads, whatever
  :class:`~kfresearch.stream.protocol.WireProtocol` speaks on the socket.

A second transport (another wire protocol, a FIX session, a recorder)
feeds a trace the same way: test ``RECORDERS`` where it sends and receives,
and call :func:`record_http` for request/response pairs or :func:`record_ws`
for messages. Nothing else is needed: traces, frames, HTML and curl follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

from kfresearch.trace.records import HttpRecord, WsRecord, masked_text, shown_headers

__all__ = ["RECORDERS", "Recorder", "record_http", "record_ws"]


class Recorder(Protocol):
    """What receives records: a :class:`~kfresearch.trace.Trace`."""

    def add(self, record: HttpRecord | WsRecord) -> None: ...


#: The traces open now, in any thread. Mutated in place, never rebound, so a
#: module that imported it sees every change.
RECORDERS: list[Recorder] = []


def record_http(
    *,
    env: str,
    endpoint: str,
    request: httpx.Request,
    outcome: object,
    sent_at: float,
    elapsed: float,
    pool: str | None,
    cost: float,
    pool_before: float | None,
    pool_after: float | None,
    waited: float,
    attempt: int,
) -> None:
    """Give every open trace one request and what came back.

    Parameters
    ----------
    env : str
        The environment's name (``"sim"``, ``"live"`` …).
    endpoint : str
        ``"GET /derivatives/api/v3/tickers"``.
    request : httpx.Request
        The request as sent (signed: its headers are read and masked here).
    outcome : httpx.Response or Exception
        The response, or the transport error when none came.
    sent_at, elapsed : float
        Epoch seconds when it was sent; seconds until the outcome.
    pool, cost, pool_before, pool_after, waited
        The rate-limit pool charged, the cost, its level (units) before the
        request reserved its cost and after the outcome, and the seconds
        waited for the pool before sending.
    attempt : int
        1 for the first try, 2 for the first retry, …
    """
    import httpx

    response = outcome if isinstance(outcome, httpx.Response) else None
    record = HttpRecord(
        env=env,
        endpoint=endpoint,
        method=request.method,
        url=str(request.url),
        request_headers=shown_headers(request.headers),
        request_body=request.content.decode("utf-8", "replace"),
        status=response.status_code if response is not None else None,
        response_headers=shown_headers(response.headers) if response is not None else (),
        response_body=response.content if response is not None else b"",
        failure=None if response is not None else f"{type(outcome).__name__}: {outcome}",
        sent_at=sent_at,
        elapsed=elapsed,
        pool=pool,
        cost=float(cost),
        pool_before=pool_before,
        pool_after=pool_after,
        waited=waited,
        attempt=attempt,
    )
    for recorder in tuple(RECORDERS):
        recorder.add(record)


def record_ws(direction: str, url: str, text: str | bytes, sent_at: float) -> None:
    """Give every open trace one WebSocket message.

    ``direction`` is ``"sent"`` or ``"received"``; ``api_key`` values in the
    text are shortened as in headers (the signed challenge is shown: it is a
    signature, not the secret).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    record = WsRecord(
        direction="sent" if direction == "sent" else "received",
        url=url,
        text=masked_text(text),
        sent_at=sent_at,
    )
    for recorder in tuple(RECORDERS):
        recorder.add(record)
