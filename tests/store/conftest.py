"""Shared fixtures of the store tests: a simulator with a fixed clock and a request log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import kfresearch
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.transport import SimTransport

NOW = "2026-11-01T00:00:00Z"
SEED = 42


class Recording(httpx.BaseTransport):
    """The in-process simulator, remembering every request it answered."""

    def __init__(self, exchange: SimExchange) -> None:
        self.inner = SimTransport(exchange)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def paths(self, part: str) -> list[httpx.URL]:
        return [r.url for r in self.requests if part in r.url.path]


@pytest.fixture(scope="module")
def exchange() -> SimExchange:
    return SimExchange(seed=SEED, clock=SimClock.fixed(NOW))


@pytest.fixture
def recording(exchange: SimExchange) -> Iterator[tuple[kfresearch.Client, Recording]]:
    transport = Recording(exchange)
    with kfresearch.Client("sim", exchange=exchange, transport=transport) as kf:
        yield kf, transport


@pytest.fixture(scope="module")
def kf(exchange: SimExchange) -> kfresearch.Client:
    return kfresearch.Client("sim", exchange=exchange)
