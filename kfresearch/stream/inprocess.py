"""A WebSocket to the in-process simulator: two queues and a feed session, no sockets.

``env="sim"`` (and ``demo``) serve the exchange inside the Python process; its
WebSocket feeds come from the same sessions that ``kfresearch sim serve`` runs
behind a real socket (:class:`kfresearch.sim.ws.FeedSession` for v1, and
:class:`kfresearch.sim.uws.session.UwsSession` when the URL's path is
``/v2/public`` or ``/v2/private``), here run as a task on the stream's own
loop. Nothing leaves the process, which is what makes the feed
reproducible in a notebook: :meth:`InProcessSocket.flush` makes the session
publish everything up to the simulator's current time and returns once the
stream has handled all of it (``stream.sync()``).

A ``ws_drop`` fault drops the connection without a close frame, as a network
failure would (the client sees close code 1006); ``ws_close`` closes it with
its code; ``ws_refuse`` makes :meth:`InProcessConnector.connect` raise
:class:`~kfresearch.stream.connection.HandshakeRefused` with the HTTP
``status``, as a refused handshake over a socket does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kfresearch.stream.connection import HandshakeRefused, SocketClosed

if TYPE_CHECKING:
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.sim.pushsession import PushSession, Send

__all__ = ["InProcessConnector", "InProcessSocket"]


@dataclass(eq=False)
class _Barrier:
    """Marks a point in the client's inbox: reached once everything before it was read."""

    reached: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _Closed:
    def __init__(self, reason: str, code: int | None) -> None:
        self.reason = reason
        self.code = code


class InProcessSocket:
    """The client end of an in-process connection (see the module docstring)."""

    def __init__(
        self, exchange: SimExchange, make: Callable[[Send], PushSession] | None = None
    ) -> None:
        if make is None:
            from kfresearch.sim.ws import FeedSession

            # an exchange may serve v1 its own way (demo relays its upstream's market)
            session: type[FeedSession] = getattr(exchange, "feed_session", FeedSession)
            make = functools.partial(session, exchange, offload=False)
        self._inbox: asyncio.Queue[str | _Barrier | _Closed] = asyncio.Queue()
        self._to_server: asyncio.Queue[str | None] = asyncio.Queue()
        self._closed: _Closed | None = None
        self._barriers: set[_Barrier] = set()
        self._session: PushSession = make(self._from_server)
        self._server = asyncio.get_running_loop().create_task(self._serve())

    async def _from_server(self, text: str) -> None:
        if self._closed is None:
            self._inbox.put_nowait(text)

    async def _serve(self) -> None:
        from kfresearch.sim.pushsession import SessionDropped

        try:
            await self._session.run(self._to_server.get)
        except SessionDropped as exc:
            self._drop(str(exc), exc.code or 1006)
        else:
            self._drop("closed", 1000)

    def _drop(self, reason: str, code: int | None) -> None:
        if self._closed is None:
            self._closed = _Closed(reason, code)
            self._inbox.put_nowait(self._closed)
        for barrier in self._barriers:  # a flush waiting behind the end fails, not hangs
            if not barrier.reached.done():
                barrier.reached.set_exception(SocketClosed(reason, code))
        self._barriers.clear()

    async def send(self, text: str) -> None:
        if self._closed is not None:
            raise SocketClosed(self._closed.reason, self._closed.code)
        self._to_server.put_nowait(text)
        await asyncio.sleep(0)  # let the server read it, as a socket would

    async def recv(self) -> str:
        while True:
            item = await self._inbox.get()
            if isinstance(item, _Barrier):
                if not item.reached.done():
                    item.reached.set_result(None)
                continue
            if isinstance(item, _Closed):
                self._inbox.put_nowait(item)  # every later recv sees the end too
                raise SocketClosed(item.reason, item.code)
            return item

    async def flush(self) -> None:
        """Publish everything up to the simulator's current time, and return when the
        client has read it all (its reader has passed a barrier put after it)."""
        from kfresearch.sim.pushsession import SessionDropped

        if self._closed is not None:
            raise SocketClosed(self._closed.reason, self._closed.code)
        await asyncio.sleep(0)  # engine events queued from another thread land first
        try:
            await self._session.pump()
        except SessionDropped as exc:
            code = exc.code or 1006
            self._drop(str(exc), code)
            self._server.cancel()
            raise SocketClosed(str(exc), code) from None
        barrier = _Barrier()
        self._barriers.add(barrier)
        self._inbox.put_nowait(barrier)
        try:
            await barrier.reached
        finally:
            self._barriers.discard(barrier)

    async def close(self) -> None:
        if self._closed is None:
            self._to_server.put_nowait(None)  # the session ends as if the client left
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._server
        self._drop("closed", 1000)


class InProcessConnector:
    """Opens in-process connections to ``exchange``: the Unified WebSocket when the URL's
    path is ``/v2/public`` or ``/v2/private``, WebSocket v1 otherwise."""

    flushable = True

    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange

    async def connect(self, url: str) -> InProcessSocket:
        path = urlsplit(url).path.rstrip("/")
        if path not in {"/v2/public", "/v2/private"}:
            return InProcessSocket(self.exchange)
        from kfresearch.sim.pushsession import refusal
        from kfresearch.sim.uws.session import UwsSession

        status = refusal(self.exchange, path)
        if status is not None:
            raise HandshakeRefused(
                f"the WebSocket upgrade to {path} was refused with HTTP {status}", status
            )
        private = path == "/v2/private"
        return InProcessSocket(
            self.exchange,
            functools.partial(UwsSession, self.exchange, private=private, offload=False),
        )
