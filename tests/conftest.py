"""Shared fixtures: a fake clock, and a small simulated exchange with test routes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Tests never read the developer's real keys or environment choice.
for _name in (
    "KFRESEARCH_API_KEY",
    "KFRESEARCH_API_SECRET",
    "KFRESEARCH_ENV",
    "KFRESEARCH_ALLOW_LIVE_TRADING",
):
    os.environ.pop(_name, None)

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "examples"


class FakeClock:
    """Monotonic seconds that move only when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


class NullEngine:
    def advance(self, now_ms: int) -> None:
        pass


@pytest.fixture
def make_exchange() -> Callable[..., Any]:
    """Build a SimExchange holding only the given routes (no market, no engine)."""
    from kfresearch.sim.clock import SimClock
    from kfresearch.sim.exchange import SimExchange

    def build(routes: list[Any], **kwargs: Any) -> SimExchange:
        kwargs.setdefault("clock", SimClock.fixed("2026-11-01T00:00:00Z"))
        return SimExchange(routes=routes, market=object(), engine=NullEngine(), **kwargs)

    return build


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
