"""One UWS WebSocket seen as request/answer pairs plus channel pushes (asyncio).

:class:`Link` sends requests with a fresh ``req_id`` and waits for the
answer that echoes it (answers are correlated on ``req_id`` only, §6: a
rejection may omit the channel); every push goes to the link's ``on_push``
callback. A reader task reads the socket; when the connection ends, every
waiting request fails with :class:`LinkClosed` and the link is dead (the
owner opens a new one: nothing is re-sent from here).

:meth:`Link.settle` waits until everything the server sent before "now" has
been handled: the in-process simulator's ``flush()``, else a ``ping``
round trip (the server answers in order, so every push it sent before the
``pong`` has been read).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from kfresearch.stream.connection import Socket, SocketClosed
from kfresearch.trace.hook import RECORDERS, record_ws
from kfresearch.uws.wire import Answer, Push, decode, encode_request

__all__ = ["Link", "LinkClosed"]

log = logging.getLogger("kfresearch.uws")

_REQ_IDS = itertools.count(1)


class LinkClosed(Exception):
    """The connection ended (``code``: the close code, when there was one)."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


class Link:
    """A UWS connection: :meth:`request` and the pushes (see the module docstring)."""

    def __init__(
        self, socket: Socket, on_push: Callable[[Push], None], *, name: str, url: str = ""
    ) -> None:
        self.socket = socket
        self.name = name
        self.url = url or name  # what kf.trace() records the messages under
        self.on_push = on_push
        self.closed: LinkClosed | None = None
        self.status: Mapping[str, Any] | None = None  # the last ``status`` push's data
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @property
    def alive(self) -> bool:
        return self.closed is None

    async def _read(self) -> None:
        while True:
            try:
                text = await self.socket.recv()
            except SocketClosed as exc:
                self._end(LinkClosed(exc.reason or "connection closed", exc.code))
                return
            except Exception as exc:  # a broken socket implementation: end, do not hang
                self._end(LinkClosed(repr(exc)))
                return
            if RECORDERS:  # a trace is open (kf.trace()): nothing else costs while none is
                record_ws("received", self.url, text, time.time())
            message = decode(text)
            if isinstance(message, Answer):
                waiter = self._waiting.pop(message.req_id, None) if message.req_id else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                else:
                    log.debug("%s: answer nobody waits for: %r", self.name, message)
            elif isinstance(message, Push):
                if message.channel == "status" and isinstance(message.data, list) and message.data:
                    self.status = message.data[0]
                try:
                    self.on_push(message)
                except Exception:  # a bug in a handler must not end the connection
                    log.exception("%s: could not handle a %s push", self.name, message.channel)
            else:
                log.debug("%s: message not understood: %r", self.name, message)

    def _end(self, reason: LinkClosed) -> None:
        if self.closed is None:
            self.closed = reason
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            if not waiter.done():
                waiter.set_exception(reason)

    async def request(
        self, method: str, params: Mapping[str, Any] | None, timeout: float  # noqa: ASYNC109
    ) -> Answer:
        """Send one request and return its answer.

        Raises
        ------
        LinkClosed
            The connection was gone, or ended before the answer came.
        TimeoutError
            No answer within ``timeout`` seconds (the request may have been processed).
        """
        if self.closed is not None:
            raise self.closed
        req_id = next(_REQ_IDS)
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = waiter
        text = encode_request(method, params, req_id)
        if RECORDERS:
            record_ws("sent", self.url, text, time.time())
        try:
            await self.socket.send(text)
        except SocketClosed as exc:
            self._waiting.pop(req_id, None)
            self._end(LinkClosed(exc.reason or "connection closed", exc.code))
            raise self.closed from None  # type: ignore[misc]
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        finally:
            self._waiting.pop(req_id, None)

    async def settle(self, timeout: float) -> None:  # noqa: ASYNC109 - seconds to wait
        """Until every push the server sent so far has been handled (see the module)."""
        flush = getattr(self.socket, "flush", None)
        if flush is not None:
            try:
                await asyncio.wait_for(flush(), timeout)
            except SocketClosed as exc:
                self._end(LinkClosed(exc.reason or "connection closed", exc.code))
                raise self.closed from None  # type: ignore[misc]
            return
        await self.request("ping", None, timeout)

    async def close(self) -> None:
        self._end(LinkClosed("closed by the client", 1000))
        with contextlib.suppress(Exception):
            await self.socket.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
