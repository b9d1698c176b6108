"""Fixtures of the two-protocol suites: the simulator served on loopback (the ASGI app of
``kfresearch sim serve``, uvicorn, real sockets; one server per module, a fresh simulator
behind it for each test) with a clock the test drives, and clients on it (never
in-process: each client is checked) speaking either protocol (``protocol`` is parametrised: every test that asks for it
runs once on v3 and once on the Unified WebSocket, with the same assertions).

``Wire`` names what differs between the protocols only where a test must say it: which
fault makes "the exchange did it, the answer was lost".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from loopback import FastClock, serve_app
from two_protocols import WIRES, Loopback, Wire

import kfresearch
from kfresearch.environments import Environment
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW = "2026-11-01T00:00:00Z"
PROTOCOLS = ("v3", "uws")


class _Current:
    """The ASGI app the module's server runs: it hands each connection to the simulator of
    the test running now, so tests share the server but never an exchange."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:  # pragma: no cover - a connection between two tests
            raise RuntimeError("no simulator behind the loopback server right now")
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, _Current]]:
    """``kfresearch sim serve``'s ASGI app on 127.0.0.1 under uvicorn, one per module."""
    current = _Current()
    with serve_app(current, name="test-uws-sim-server") as url:
        yield url, current


@pytest.fixture
def loopback(served: tuple[str, _Current]) -> Iterator[Loopback]:
    """A fresh simulator (seed 3, clock fixed at NOW) behind the module's loopback server."""
    from kfresearch.sim.server import build_app

    url, current = served
    exchange = SimExchange(seed=3, clock=SimClock.fixed(NOW), rate_clock=FastClock())
    current.app = build_app(exchange)
    yield Loopback(url, exchange)
    current.app = None


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def wire(protocol: str) -> Wire:
    return WIRES[protocol]


@pytest.fixture
def connect(loopback: Loopback, protocol: str) -> Iterator[Callable[..., kfresearch.Client]]:
    """Clients on the loopback simulator speaking ``protocol`` (closed after the test)."""
    made: list[kfresearch.Client] = []

    def make(**kw: Any) -> kfresearch.Client:
        kw.setdefault("limiter", RateLimiter.unlimited())
        kw.setdefault("timeout", 10)
        client = kfresearch.Client("sim", base_url=loopback.url, protocol=protocol, **kw)
        with pytest.raises(AttributeError, match="not in-process"):
            client.sim  # noqa: B018 - over the socket, not the in-process exchange
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def kf(connect: Callable[..., kfresearch.Client]) -> kfresearch.Client:
    return connect()


@pytest.fixture
def reference(loopback: Loopback) -> Iterator[kfresearch.Client]:
    """The v3 client in-process on the same exchange: the frames both protocols must give."""
    client = kfresearch.Client("sim", exchange=loopback.exchange, protocol="v3",
                               limiter=RateLimiter.unlimited())
    yield client
    client.close()


@pytest.fixture
def acct(loopback: Loopback) -> Any:
    """The simulator's account behind the provisioned keys (live state)."""
    ex = loopback.exchange
    account_id = ex.keys[ex.credentials("full").key].account_id
    return ex.engine.account(account_id, ex.clock.now_ms())


@pytest.fixture
def make_live(loopback: Loopback, protocol: str) -> Iterator[Callable[..., kfresearch.Client]]:
    """Clients whose environment is marked real money, served by the loopback simulator."""
    made: list[kfresearch.Client] = []
    env = Environment("live", loopback.url, in_process=False, real_money=True, keys_help="test")

    def make(allow_trading: bool = False) -> kfresearch.Client:
        ex = loopback.exchange
        creds = ex.credentials("full")
        spot = ex.uws.spot_credentials("full")
        client = kfresearch.Client(
            env, key=creds.key, secret=creds.secret, uws_key=spot.key, uws_secret=spot.secret,
            protocol=protocol, allow_trading=allow_trading, limiter=RateLimiter.unlimited(),
            timeout=10,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
