"""Helpers of the stream tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kfresearch
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.ws import HEARTBEAT_MS


@dataclass
class Served:
    """The simulator served on loopback: its URL and the exchange behind it."""

    url: str
    exchange: SimExchange

    def client(self) -> kfresearch.Client:
        return kfresearch.Client("sim", base_url=self.url, limiter=RateLimiter.unlimited())


def wait_until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.005)


def step(exchange: SimExchange, stream: Any, ms: int = HEARTBEAT_MS) -> int:
    """Move the exchange's clock and wait until the stream has everything up to it.

    Within a tick the simulator sends the heartbeat last, so the heartbeat
    stamped with the new time means every delta of that time was handled.
    """
    if ms < HEARTBEAT_MS:
        raise ValueError("steps of at least one heartbeat interval")
    now = exchange.advance(ms)
    wait_until(lambda: (stream.last_heartbeat_ms or 0) >= now, what=f"the heartbeat of {now}")
    return now
