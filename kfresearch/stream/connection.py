"""The socket under the stream: one interface, a ``websockets`` connection or the
in-process simulator, and the reconnect delays.

A :class:`Connector` opens a :class:`Socket`; the stream only sends and
receives text through it, and learns that it ended from :class:`SocketClosed`.
The ``websockets`` socket keeps the connection alive with protocol pings
(every ``keepalive`` seconds, well inside the exchange's 60 s window,
reference §3.1) and reports a peer that stops answering them as closed.

:func:`backoff` gives the waits between reconnection attempts: exponential,
with "equal jitter" (each wait is uniformly between half and all of the
exponential step), so many clients dropped together do not reconnect in step.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "Connector",
    "HandshakeRefused",
    "Socket",
    "SocketClosed",
    "WebsocketsConnector",
    "backoff",
]


class SocketClosed(Exception):
    """The connection ended (``code`` is the WebSocket close code when there was one)."""

    def __init__(self, reason: str = "", code: int | None = None) -> None:
        super().__init__(reason or "connection closed")
        self.code = code
        self.reason = reason


class HandshakeRefused(OSError):
    """The server answered the WebSocket upgrade with an HTTP error (``status``): a 4xx
    answer is final, the stream does not reconnect (reference kraken-unified-ws.md §6)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Socket(Protocol):
    """A text WebSocket connection."""

    async def send(self, text: str) -> None:
        """Send one message; raises :class:`SocketClosed` when the connection is gone."""
        ...

    async def recv(self) -> str | bytes:
        """The next message; raises :class:`SocketClosed` when the connection ended."""
        ...

    async def close(self) -> None:
        """Close (politely where the transport allows); never raises."""
        ...


class Connector(Protocol):
    """Opens connections to a URL."""

    #: whether its sockets have ``flush()``: deliver everything the server
    #: published up to now, then return (the in-process simulator)
    flushable: bool

    async def connect(self, url: str) -> Socket:
        """A new connection; raises ``OSError`` or ``TimeoutError`` when it cannot."""
        ...


def _closed(exc: Any) -> SocketClosed:
    """A ``websockets`` ConnectionClosed as :class:`SocketClosed` (code 1006 when no close
    frame came: the connection dropped)."""
    frame = exc.rcvd
    if frame is None:
        return SocketClosed("the connection dropped", 1006)
    return SocketClosed(frame.reason, frame.code)


class _WebsocketsSocket:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._connection.send(text)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def recv(self) -> str | bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            message: str | bytes = await self._connection.recv()
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        return message

    async def close(self) -> None:
        try:
            await self._connection.close()
        except Exception:  # noqa: S110 - closing a broken connection: nothing left to do
            pass


class WebsocketsConnector:
    """Connections through the ``websockets`` library.

    Parameters
    ----------
    keepalive : float
        Seconds between protocol pings (the exchange drops a connection idle
        for 60 s); ``ping_timeout`` seconds without the pong close it.
    open_timeout, close_timeout : float
        Seconds for the opening and closing handshakes.
    """

    flushable = False

    def __init__(
        self,
        *,
        keepalive: float = 30.0,
        ping_timeout: float = 20.0,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
    ) -> None:
        self.keepalive = keepalive
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout

    async def connect(self, url: str) -> Socket:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

        try:
            connection = await connect(
                url,
                ping_interval=self.keepalive,
                ping_timeout=self.ping_timeout,
                open_timeout=self.open_timeout,
                close_timeout=self.close_timeout,
                max_size=2**24,  # a deep book snapshot can pass the default 1 MiB
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise HandshakeRefused(
                f"WebSocket handshake with {url} refused: HTTP {status}", status
            ) from exc
        except (InvalidHandshake, InvalidURI) as exc:
            raise OSError(f"WebSocket handshake with {url} failed: {exc}") from exc
        return _WebsocketsSocket(connection)


def backoff(
    base: float = 0.5, cap: float = 30.0, *, rng: random.Random | None = None
) -> Iterator[float]:
    """Waits (seconds) before each reconnection attempt: exponential with equal jitter.

    The n-th wait is uniform in ``[step/2, step]`` with ``step = min(cap, base·2ⁿ)``.

    Examples
    --------
    >>> waits = backoff(1.0, 8.0, rng=random.Random(0))
    >>> [round(next(waits), 2) for _ in range(6)]
    [0.92, 1.76, 2.84, 5.04, 6.05, 5.62]
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    attempt = 0
    while True:
        step = min(cap, base * 2.0**attempt)
        yield step / 2.0 + rng.random() * step / 2.0
        attempt += 1
