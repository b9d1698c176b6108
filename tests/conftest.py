"""Shared fixtures: a fake clock, a small simulated exchange with test routes, and a
seeded simulator with clients on it (the order and widget tests).

Rate limits are real on the simulator; in the order fixtures its pools refill on a
fast fake clock and the client's limiter never waits, so hundreds of orders take
no time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import FastClock

import kfresearch
from kfresearch.environments import ENVIRONMENTS, IN_PROCESS_URL, Environment
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.transport import SimTransport

# Tests never read the developer's real keys or environment choice.
for _name in (
    "KFRESEARCH_API_KEY",
    "KFRESEARCH_API_SECRET",
    "KFRESEARCH_ENV",
    "KFRESEARCH_ALLOW_LIVE_TRADING",
    "KFRESEARCH_UWS_API_KEY",
    "KFRESEARCH_UWS_API_SECRET",
    "KFRESEARCH_PROTOCOL",
    "KFRESEARCH_DEMO_UPSTREAM",
):
    os.environ.pop(_name, None)
# ... nor the developer's paper accounts: demo keeps them in a directory of the run's own
os.environ["KFRESEARCH_DATA_DIR"] = tempfile.mkdtemp(prefix="kfresearch-tests-")

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


NOW = "2026-11-01T00:00:00Z"


class Recording(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Passes requests to the simulator and remembers ``(method, path)`` of each."""

    def __init__(self, inner: SimTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)

    def paths(self) -> list[str]:
        return [path.rsplit("/", 1)[-1] for _, path in self.seen]


@pytest.fixture
def ex() -> SimExchange:
    return SimExchange(seed=1, clock=SimClock.fixed(NOW), rate_clock=FastClock())


@pytest.fixture
def recorder(ex: SimExchange) -> Recording:
    return Recording(SimTransport(ex))


@pytest.fixture
def kf(ex: SimExchange, recorder: Recording) -> Iterator[kfresearch.Client]:
    client = kfresearch.Client("sim", exchange=ex, limiter=RateLimiter.unlimited(), transport=recorder)
    yield client
    client.close()


@pytest.fixture
def make_live_sim(ex: SimExchange, recorder: Recording) -> Any:
    """A client whose environment is marked real money but is served by the simulator."""

    def make(allow_trading: bool = False) -> kfresearch.Client:
        env = Environment(
            "live",
            IN_PROCESS_URL,
            in_process=True,
            real_money=True,
            keys_help="test",
            factory=ENVIRONMENTS["sim"].factory,
        )
        creds = ex.credentials("full")
        return kfresearch.Client(
            env,
            key=creds.key,
            secret=creds.secret,
            exchange=ex,
            allow_trading=allow_trading,
            limiter=RateLimiter.unlimited(),
            transport=recorder,
        )

    return make


@pytest.fixture
def acct(ex: SimExchange) -> Any:
    """The simulator's account behind the provisioned full-access key (live state)."""
    account_id = ex.keys[ex.credentials("full").key].account_id
    return ex.engine.account(account_id, ex.clock.now_ms())
