"""``kfresearch sim serve``: the simulator over real HTTP (and WebSocket) on loopback.

A Starlette app hands every HTTP request to :meth:`SimExchange.handle`
unchanged, so clients written for the real exchange work against it with only
the base URL changed. uvicorn serves it and stops cleanly on SIGINT.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from kfresearch.sim.exchange import SimExchange

__all__ = ["build_app", "serve"]


def build_app(exchange: SimExchange) -> Starlette:
    """The ASGI app serving ``exchange``: every path, every method, plus ``/ws/v1``."""

    async def http(request: Request) -> Response:
        body = await request.body()
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        answer = await run_in_threadpool(
            exchange.handle, request.method, target, dict(request.headers), body
        )
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.drop:
            # a dropped connection: raising before the response starts makes the
            # server close it without an answer
            raise ConnectionAbortedError("simulated dropped connection")
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    routes: list[Any] = [
        Route("/{path:path}", http, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    try:
        from kfresearch.sim.ws import websocket_endpoint
    except ImportError:  # pragma: no cover - the WebSocket feeds are optional
        pass
    else:
        routes.insert(0, WebSocketRoute("/ws/v1", websocket_endpoint(exchange)))
    return Starlette(routes=routes)


def serve(exchange: SimExchange, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop it cleanly)."""
    import uvicorn

    uvicorn.run(build_app(exchange), host=host, port=port, log_level="warning")
