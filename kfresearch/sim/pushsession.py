"""What every simulated WebSocket connection shares: requests in, ticks out, faults on the way.

A :class:`PushSession` serves one connection over any pair of "receive a text" /
"send a text" functions, so the same session runs behind a real socket
(``kfresearch sim serve``) and in-process (:mod:`kfresearch.stream.inprocess`).
It handles one request or one tick at a time (an asyncio lock), so nothing of
a feed follows its unsubscribe answer. A tick (:meth:`PushSession.pump`) sends
what changed in the market (:meth:`~PushSession.updates`, computed with the
exchange locked), then the engine's events queued since the last tick, then
the tick's :meth:`~PushSession.trailer` (the heartbeat: a client that sees it
has everything published up to its time).

Engine events reach a session through the engine's listeners, in the thread
that runs the engine and with the exchange locked; :meth:`~PushSession.translate`
turns one into the protocol's messages there, while the engine state it may
read is consistent, and they wait in the outbox for the next tick or answer.

Pushes meet the ``ws_`` faults of :mod:`kfresearch.sim.faults` on their way
out (path from :meth:`~PushSession.fault_path`): ``ws_skip`` swallows one,
``ws_drop`` cuts the connection, ``ws_close`` closes it with the fault's
``code``, ``ws_corrupt`` hands it to :meth:`~PushSession.corrupt`. Answers to
requests are never subject to faults.

The two protocols: :class:`kfresearch.sim.ws.FeedSession` (WebSocket v1) and
:class:`kfresearch.sim.uws.session.UwsSession` (the Unified WebSocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from kfresearch.sim.faults import WS_KINDS, WS_UPGRADE_KINDS

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from kfresearch.sim.exchange import SimExchange

__all__ = [
    "TICK_SECONDS",
    "PushSession",
    "Receive",
    "Send",
    "SessionDropped",
    "refusal",
    "websocket_endpoint",
]

TICK_SECONDS = 0.25  # a served session's tick (in-process sessions tick when flushed)

Send = Callable[[str], Awaitable[None]]
Receive = Callable[[], Awaitable[str | None]]


class SessionDropped(Exception):
    """A fault ends the connection.

    ``code`` is the close code the server sends (``ws_close``), or None when
    the connection is cut without one (``ws_drop``: the client sees 1006
    in-process; a served session closes with 1012 "service restart").
    """

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


def refusal(exchange: SimExchange, path: str) -> int | None:
    """The HTTP status a ``ws_refuse`` fault answers a handshake to ``path`` with, if one
    applies (None: the upgrade goes ahead)."""
    fault = exchange.faults.pick(path, WS_UPGRADE_KINDS)
    return fault.status if fault is not None else None


class PushSession:
    """One connection's loop (see the module docstring); subclasses speak a protocol.

    Parameters
    ----------
    exchange : SimExchange
    send : async callable
        Sends one text frame to the client.
    offload : bool
        Compute each tick in a worker thread (a served simulator, whose HTTP
        requests run in threads too); in-process sessions compute it inline.
    """

    def __init__(self, exchange: SimExchange, send: Send, *, offload: bool = True) -> None:
        self.exchange = exchange
        self._send_text = send
        self.offload = offload
        self.account_id: str | None = None
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._turn = asyncio.Lock()  # one request or one tick at a time

    # -- what a protocol says -----------------------------------------------------------
    async def opened(self) -> None:
        """Send what the server says first on a new connection."""

    async def on_message(self, text: str) -> None:
        """Answer one request of the client."""
        raise NotImplementedError

    def updates(self) -> list[dict[str, Any]]:
        """Everything that changed since the last tick (called with the exchange locked)."""
        raise NotImplementedError

    def trailer(self) -> list[dict[str, Any]]:
        """The tick's last messages (the heartbeat, when one is due)."""
        return []

    def translate(self, feed: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The protocol's messages for an engine event of this session's account ([] if none)."""
        return []

    def fault_path(self, message: dict[str, Any]) -> str:
        """The path ``ws_`` faults match a push against."""
        raise NotImplementedError

    def corrupt(self, message: dict[str, Any]) -> dict[str, Any]:
        """The push as a ``ws_corrupt`` fault spoils it (unchanged by default)."""
        return message

    def encode(self, message: dict[str, Any]) -> str:
        return orjson.dumps(message).decode()

    # -- the connection -----------------------------------------------------------------
    async def run(self, receive: Receive) -> None:
        """Serve until ``receive`` returns None (the client left).

        Raises
        ------
        SessionDropped
            A fault ends the connection: the caller closes it (see its ``code``).
        """
        await self.opened()
        self.exchange.engine.listeners.append(self.on_engine_event)
        tasks = {
            asyncio.create_task(self._pump_forever()),
            asyncio.create_task(self._receive_forever(receive)),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(ValueError):
                self.exchange.engine.listeners.remove(self.on_engine_event)

    async def _receive_forever(self, receive: Receive) -> None:
        while (text := await receive()) is not None:
            async with self._turn:
                await self.on_message(text)

    async def _pump_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            await self.pump()

    async def pump(self) -> None:
        """One tick: what changed in the market, the engine's events, then the trailer."""
        async with self._turn:
            if self.offload:
                batch = await asyncio.to_thread(self.exchange.run_locked, self.updates)
            else:
                batch = self.exchange.run_locked(self.updates)
            for message in batch:
                await self._deliver(message)
            await self.drain()
            for message in self.trailer():
                await self._deliver(message)

    async def drain(self) -> None:
        """Send the engine's events queued so far."""
        while not self.outbox.empty():
            await self._deliver(self.outbox.get_nowait())

    async def send(self, message: dict[str, Any]) -> None:
        """Send an answer (never subject to faults)."""
        await self._send_text(self.encode(message))

    async def _deliver(self, message: dict[str, Any]) -> None:
        """Send a push, unless a ``ws_`` fault swallows, spoils or ends it."""
        path = self.fault_path(message)
        fault = self.exchange.faults.pick(path, WS_KINDS)
        if fault is None:
            await self.send(message)
        elif fault.kind == "ws_skip":
            return
        elif fault.kind == "ws_corrupt":
            await self.send(self.corrupt(message))
        elif fault.kind == "ws_close":
            raise SessionDropped(f"ws_close fault before a push on {path}", fault.code)
        else:
            raise SessionDropped(f"ws_drop fault before a push on {path}")

    # -- engine events (called in the thread that runs the engine) ------------------------
    def on_engine_event(self, feed: str, account_id: str, message: dict[str, Any]) -> None:
        if account_id != self.account_id:
            return
        for out in self.translate(feed, message):
            if threading.get_ident() == self._loop_thread:
                # in-process, on the loop's own thread: queue it now, so a flush that
                # follows in the same step sends it
                self.outbox.put_nowait(out)
            else:
                self.loop.call_soon_threadsafe(self.outbox.put_nowait, out)


def websocket_endpoint(
    exchange: SimExchange, path: str, make: Callable[[Send], PushSession]
) -> Callable[[WebSocket], Awaitable[None]]:
    """The ASGI WebSocket handler serving ``path`` with sessions ``make(send)`` makes.

    A ``ws_refuse`` fault answers the handshake with its HTTP status; a session
    ended by a fault closes with its code (1012 "service restart" for ``ws_drop``).
    """
    from starlette.responses import Response
    from starlette.websockets import WebSocketDisconnect

    async def endpoint(websocket: WebSocket) -> None:
        status = refusal(exchange, path)
        if status is not None:
            text = f"the WebSocket upgrade to {path} was refused with HTTP {status}"
            await websocket.send_denial_response(
                Response(text, status_code=status, media_type="text/plain")
            )
            return
        await websocket.accept()

        async def receive() -> str | None:
            try:
                return await websocket.receive_text()
            except WebSocketDisconnect:
                return None

        session = make(websocket.send_text)
        try:
            await session.run(receive)
        except SessionDropped as exc:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(code=exc.code or 1012)
        except WebSocketDisconnect:
            pass

    return endpoint
