"""Fixtures of the stream tests: the simulator served on loopback with a clock the test
drives, clients on it, and a way to wait until the stream has caught up with the clock.

``served`` runs the same ASGI app as ``kfresearch sim serve`` (uvicorn, real
sockets on 127.0.0.1) in a thread of the test process, so a test can move the
exchange's clock, inject faults and read the exchange's own book at the same
simulated time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import FastClock, serve_app
from stream_helpers import Served

from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture
def served() -> Iterator[Served]:
    from kfresearch.sim.server import build_app

    exchange = SimExchange(seed=3, clock=SimClock.fixed(NOW), rate_clock=FastClock())
    with serve_app(build_app(exchange)) as url:
        yield Served(url, exchange)
