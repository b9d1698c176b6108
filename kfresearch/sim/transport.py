"""The in-process simulator as an httpx transport: no sockets, works on Binder.

The same object serves :class:`httpx.Client` and :class:`httpx.AsyncClient`.
Injected faults surface as the real failures would: a dropped connection
before processing is an :class:`httpx.ConnectError`, a drop after processing
an :class:`httpx.ReadTimeout`.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from kfresearch.sim.exchange import SimExchange, SimResponse

__all__ = ["SimTransport"]


class SimTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Routes requests to a :class:`SimExchange` in this process."""

    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange

    def _answer(self, request: httpx.Request) -> SimResponse:
        target = request.url.raw_path.decode("ascii")
        return self.exchange.handle(request.method, target, dict(request.headers), request.content)

    @staticmethod
    def _finish(request: httpx.Request, answer: SimResponse) -> httpx.Response:
        if answer.drop == "before":
            raise httpx.ConnectError("simulated connection failure", request=request)
        if answer.drop == "after":
            raise httpx.ReadTimeout(
                "simulated timeout after the exchange processed it", request=request
            )
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        answer = self._answer(request)
        if answer.delay:
            time.sleep(answer.delay)
        return self._finish(request, answer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        answer = self._answer(request)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return self._finish(request, answer)

    def __repr__(self) -> str:
        return f"SimTransport({self.exchange!r})"
