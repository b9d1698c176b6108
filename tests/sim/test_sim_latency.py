"""A simulated network round trip: ``SimExchange(latency=...)`` and ``sim serve --latency``."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

import kfresearch
from kfresearch.cli import main
from kfresearch.errors import ValidationError
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.sim.server import build_app
from kfresearch.sim.transport import SimTransport

NOW = "2026-11-01T00:00:00Z"
TICKERS = "/derivatives/api/v3/tickers"
INSTRUMENTS = "/derivatives/api/v3/instruments"  # cheap to answer: the wait is what shows


def exchange(latency: Any = 0.0) -> SimExchange:
    return SimExchange(seed=3, clock=SimClock.fixed(NOW), latency=latency)


@pytest.mark.parametrize(
    ("given", "seconds"), [("50ms", 0.05), ("1.5s", 1.5), (0.2, 0.2), (0, 0.0)]
)
def test_latency_takes_durations_and_seconds(given: Any, seconds: float) -> None:
    assert exchange(given).latency == pytest.approx(seconds)


@pytest.mark.parametrize("given", ["fast", -0.1, "-5ms"])
def test_a_bad_latency_is_refused(given: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        exchange(given)
    assert refused.value.field == "latency"


def test_every_answer_carries_the_round_trip_and_faults_add_to_it() -> None:
    ex = exchange("50ms")
    assert ex.handle("GET", TICKERS, {}, b"").delay == pytest.approx(0.05)
    ex.add_fault(Fault("latency", path="/tickers", seconds=0.2, count=1))
    ex.add_fault(Fault("status", path="/instruments", count=1))
    assert ex.handle("GET", TICKERS, {}, b"").delay == pytest.approx(0.25)
    refused = ex.handle("GET", "/derivatives/api/v3/instruments", {}, b"")
    assert (refused.status, refused.delay) == (503, pytest.approx(0.05))
    ex.latency = 0.0
    assert ex.handle("GET", TICKERS, {}, b"").delay == 0.0


def test_in_process_clients_wait_the_round_trip_side_by_side() -> None:
    ex = exchange("100ms")
    with kfresearch.Client("sim", exchange=ex, limiter=RateLimiter.unlimited()) as kf:
        start = time.perf_counter()
        kf.tickers()
        assert time.perf_counter() - start >= 0.1

    async def four() -> float:
        async with kfresearch.AsyncClient("sim", exchange=ex, limiter=RateLimiter.unlimited()) as akf:
            start = time.perf_counter()
            await asyncio.gather(*(akf.tickers() for _ in range(4)))
            return time.perf_counter() - start

    assert asyncio.run(four()) >= ex.latency
    assert ex.requests_seen == 5


def test_the_round_trip_is_waited_outside_the_exchange() -> None:
    """While one request waits its round trip, the exchange answers another at once."""
    ex = exchange("1s")
    with httpx.Client(transport=SimTransport(ex), base_url="http://sim") as http:
        waiting = threading.Thread(target=http.get, args=(INSTRUMENTS,))
        waiting.start()
        while ex.requests_seen == 0:  # until it is processed: then it waits
            time.sleep(0.005)
        assert ex.handle("GET", INSTRUMENTS, {}, b"").status == 200
        assert waiting.is_alive()  # answered while the first still waits
        waiting.join()


@pytest.mark.parametrize("served", [False, True], ids=["in-process", "served"])
def test_concurrent_requests_wait_side_by_side_not_in_turn(served: bool) -> None:
    """Four requests at once wait one round trip between them, not four in turn."""
    ex = exchange("600ms")
    transport: Any = httpx.ASGITransport(app=build_app(ex)) if served else SimTransport(ex)

    async def four() -> float:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            start = time.perf_counter()
            answers = await asyncio.gather(*(http.get(INSTRUMENTS) for _ in range(4)))
            assert {a.status_code for a in answers} == {200}
            return time.perf_counter() - start

    elapsed = asyncio.run(four())
    assert ex.requests_seen == 4
    assert ex.latency <= elapsed < 4 * ex.latency


def test_the_served_app_waits_the_round_trip() -> None:
    async def one() -> float:
        transport = httpx.ASGITransport(app=build_app(exchange("80ms")))
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            start = time.perf_counter()
            assert (await http.get(TICKERS)).status_code == 200
            return time.perf_counter() - start

    assert asyncio.run(one()) >= 0.08


def test_sim_serve_takes_latency(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[SimExchange] = []
    monkeypatch.setattr("kfresearch.sim.server.serve", lambda ex, **_: served.append(ex))
    assert main(["sim", "serve", "--port", "0", "--latency", "50ms"]) == 0
    assert served[0].latency == pytest.approx(0.05)
    assert "50ms latency" in capsys.readouterr().out
    assert main(["sim", "serve", "--port", "0", "--latency", "soon"]) == 2
    assert "--latency" in capsys.readouterr().err
