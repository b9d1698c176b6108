"""Fixtures of the stream tests: the simulator served on loopback with a clock the test
drives, clients on it, and a way to wait until the stream has caught up with the clock.

``served`` runs the same ASGI app as ``kfresearch sim serve`` (uvicorn, real
sockets on 127.0.0.1) in a thread of the test process, so a test can move the
exchange's clock, inject faults and read the exchange's own book at the same
simulated time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from stream_helpers import Served

from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW = "2026-11-01T00:00:00Z"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _FastClock:
    """Rate-limit pools that are always full."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10.0
        return self.now


@pytest.fixture
def served() -> Iterator[Served]:
    import uvicorn

    from kfresearch.sim.server import build_app

    exchange = SimExchange(seed=3, clock=SimClock.fixed(NOW), rate_clock=_FastClock())
    port = _free_port()
    config = uvicorn.Config(
        build_app(exchange), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-sim-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
            pytest.fail("the loopback simulator did not start")
        time.sleep(0.02)
    yield Served(f"http://127.0.0.1:{port}", exchange)
    server.should_exit = True
    thread.join(timeout=20)
