"""``kfresearch sim serve``: the simulator over real HTTP (and WebSocket) on loopback.

A Starlette app hands every HTTP request to :meth:`SimExchange.handle`
unchanged, so clients written for the real exchange work against it with only
the base URL changed: the v3 REST API, the Spot REST ``GetWebSocketsToken``,
WebSocket v1 on ``/ws/v1`` and the Unified WebSocket on ``/v2/public`` and
``/v2/private``. uvicorn serves it and stops cleanly on SIGINT.

:func:`bind` takes the port before anything is announced, so a busy port is an
error at once rather than after a "listening on" line.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from kfresearch.sim.exchange import SimExchange

__all__ = ["bind", "build_app", "serve"]


def build_app(exchange: SimExchange) -> Starlette:
    """The ASGI app serving ``exchange``: every path, every method, plus its WebSockets."""

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
        from kfresearch.sim.uws.session import uws_endpoint
        from kfresearch.sim.ws import websocket_endpoint
    except ImportError:  # pragma: no cover - the WebSocket feeds are optional
        pass
    else:
        routes[:0] = [
            WebSocketRoute("/ws/v1", websocket_endpoint(exchange)),
            WebSocketRoute("/v2/public", uws_endpoint(exchange, private=False)),
            WebSocketRoute("/v2/private", uws_endpoint(exchange, private=True)),
        ]
    return Starlette(routes=routes)


def bind(host: str = "127.0.0.1", port: int = 8765) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    Raises
    ------
    OSError
        The address is in use or not available (``errno`` says which).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def serve(
    exchange: SimExchange,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    sock: socket.socket | None = None,
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop it cleanly).

    Serves on ``sock`` when given (from :func:`bind`), else binds ``host:port``.
    """
    import uvicorn

    listening = sock if sock is not None else bind(host, port)
    config = uvicorn.Config(build_app(exchange), log_level="warning")
    try:
        uvicorn.Server(config).run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn re-raises SIGINT after its clean shutdown
        pass
