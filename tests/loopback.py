"""An ASGI app served on 127.0.0.1 by uvicorn in a thread, for tests that need real sockets.

Shared by the stream, Unified WebSocket and simulator suites (``from loopback import
serve_app``; ``tests/`` is on the import path through its conftest), so the server's
start-up wait and shutdown are written once.

Example
-------
>>> with serve_app(build_app(exchange)) as url:     # doctest: +SKIP
...     httpx.get(f"{url}/derivatives/api/v3/instruments")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class FastClock:
    """Monotonic seconds that jump 10 s per reading: the sim's rate pools are always full."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10.0
        return self.now


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(app: Callable[..., Any], name: str = "test-sim-server") -> Iterator[str]:
    """Serve ``app`` under uvicorn on a free loopback port; yields ``http://127.0.0.1:PORT``.

    Fails the test if the server has not started within 20 s; stops it on exit.
    """
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", interface="asgi3")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
            pytest.fail("the loopback simulator did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
