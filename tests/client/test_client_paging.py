"""Concurrent paging: candle windows and history sub-ranges side by side, the same frames
as serial paging."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import httpx
import pandas as pd
import pytest

import kfresearch
from kfresearch import frames, queries
from kfresearch.frames.pages import HistoryPage
from kfresearch.plans import CONCURRENCY, drive
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.sim.transport import SimTransport
from kfresearch.transport import RetryPolicy

NOW = "2026-11-01T00:00:00Z"
NOW_MS = 1_793_491_200_000
EXECUTIONS = "/api/history/v3/market/PF_XBTUSD/executions"


class Watching(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The simulator, remembering each request's path and query and how many overlapped."""

    def __init__(self, exchange: SimExchange) -> None:
        self.inner = SimTransport(exchange)
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def _note(self, request: httpx.Request, step: int) -> None:
        with self._lock:
            if step > 0:
                query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
                self.queries.append((request.url.path, query))
            self.in_flight += step
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._note(request, 1)
        try:
            return self.inner.handle_request(request)
        finally:
            self._note(request, -1)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._note(request, 1)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self._note(request, -1)

    def sinces(self, path: str) -> list[int]:
        return [int(q["since"]) for p, q in self.queries if p == path]


SPAN = 3 * 3_600_000  # three hours: about 2,500 trades


pytestmark = pytest.mark.usefixtures("small_pages")  # tests/client/conftest.py


@pytest.fixture(scope="module")
def exchange() -> SimExchange:
    return SimExchange(seed=5, clock=SimClock.fixed(NOW))


def serial_trades(exchange: SimExchange, since: int, before: int) -> pd.DataFrame:
    """The trades frame of one token chain over ``[since, before)``: the reference."""
    pages: list[bytes] = []
    token = ""
    while True:
        query = f"since={since}&before={before}&sort=asc&count=1000" + (
            f"&continuation_token={token}" if token else ""
        )
        pages.append(exchange.handle("GET", f"{EXECUTIONS}?{query}", {}, b"").body)
        token = frames.pages.page_token(pages[-1]) or ""
        if not token:
            return frames.trades(pages, sort="asc")


@pytest.fixture(scope="module")
def reference(exchange: SimExchange) -> pd.DataFrame:
    return serial_trades(exchange, NOW_MS - SPAN, NOW_MS + 1)


@pytest.fixture
def watching(exchange: SimExchange) -> Iterator[tuple[kfresearch.Client, Watching]]:
    transport = Watching(exchange)
    with kfresearch.Client(
        "sim", exchange=exchange, transport=transport, limiter=RateLimiter.unlimited()
    ) as kf:
        yield kf, transport


@contextmanager
def slow_answers(exchange: SimExchange, seconds: float = 0.01) -> Iterator[None]:
    """Every answer waits ``seconds``: requests sent side by side overlap for sure."""
    exchange.latency = seconds
    try:
        yield
    finally:
        exchange.latency = 0.0


def assert_same(got: pd.DataFrame, reference: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, reference)
    for key, value in reference.attrs.items():
        assert got.attrs[key] == value, key


def test_trades_are_fetched_in_sub_ranges_and_equal_serial_paging(
    watching: tuple[kfresearch.Client, Watching], reference: pd.DataFrame
) -> None:
    kf, transport = watching
    with slow_answers(kf.sim):
        got = kf.trades("PF_XBTUSD", since="3h", progress=False)
    assert_same(got, reference)
    assert len(got) > 20 * 100  # a listing of many pages
    assert list(got["seq"]) == list(range(len(got)))
    sinces = transport.sinces(EXECUTIONS)
    assert sinces[0] == NOW_MS - SPAN  # the first page asks for the whole range
    assert len(set(sinces)) > 4  # then the rest in sub-ranges
    assert transport.most_in_flight > 1  # side by side


def test_sub_ranges_longer_than_a_page_follow_their_tokens(
    watching: tuple[kfresearch.Client, Watching],
    reference: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queries, "SPLIT_MAX", 2)
    kf, transport = watching
    assert_same(kf.trades("PF_XBTUSD", since="3h", progress=False), reference)
    calls = [q for p, q in transport.queries if p == EXECUTIONS]
    assert len({q["since"] for q in calls}) == 3  # the first page, then two sub-ranges
    assert sum("continuation_token" in q for q in calls) > 2


def test_a_short_listing_is_one_request(
    watching: tuple[kfresearch.Client, Watching], exchange: SimExchange
) -> None:
    kf, transport = watching
    got = kf.trades("PF_XBTUSD", since="2m", progress=False)
    assert_same(got, serial_trades(exchange, NOW_MS - 120_000, NOW_MS + 1))
    assert len(transport.sinces(EXECUTIONS)) == 1


@pytest.mark.anyio
async def test_the_async_client_pages_the_same_side_by_side(
    exchange: SimExchange, reference: pd.DataFrame
) -> None:
    transport = Watching(exchange)
    async with kfresearch.AsyncClient(
        "sim", exchange=exchange, transport=transport, limiter=RateLimiter.unlimited()
    ) as akf:
        with slow_answers(exchange):
            got = await akf.trades("PF_XBTUSD", since="3h", progress=False)
    assert_same(got, reference)
    assert len(set(transport.sinces(EXECUTIONS))) > 4
    assert transport.most_in_flight == CONCURRENCY  # never more than the plan allows


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        # no token, or an empty page: the listing is complete
        (HistoryPage(None, 100, 1_000), []),
        (HistoryPage("t", 0, None), []),
        # the first page covered 1,000 of 10,000 ms with 100 elements: 9 pages left,
        # cut into 12 sub-ranges of three quarters of a page
        (
            HistoryPage("t", 100, 1_000),
            [(1_000 + 9_000 * i // 12, 1_000 + 9_000 * (i + 1) // 12) for i in range(12)],
        ),
        # one more page likely ends it: follow the token instead
        (HistoryPage("t", 100, 9_500), []),
    ],
)
def test_sub_ranges_cover_the_rest_of_the_range(
    first: HistoryPage, expected: list[tuple[int, int]]
) -> None:
    assert queries._sub_ranges(0, 10_000, first) == expected


def test_sub_ranges_are_at_most_split_max_and_contiguous() -> None:
    ranges = queries._sub_ranges(0, 10**9, HistoryPage("t", 100, 1_000))
    assert len(ranges) == queries.SPLIT_MAX
    assert ranges[0][0] == 1_000
    assert ranges[-1][1] == 10**9
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_sync_candle_windows_go_out_side_by_side_and_join_as_serial(
    exchange: SimExchange, watching: tuple[kfresearch.Client, Watching]
) -> None:
    kf, transport = watching
    with slow_answers(exchange, 0.02):
        got = kf.candles("PF_XBTUSD", "1m", since="10d", progress=False)
    assert transport.most_in_flight > 1
    plan = queries.plan_candles("PF_XBTUSD", "1m", "10d", None, "trade", NOW_MS, False, None)
    serial = drive(plan, kf._send)  # the same plan, one call after another
    pd.testing.assert_frame_equal(got, serial)
    assert len(got) == 10 * 1440


def test_a_failing_sub_range_carries_the_rows_so_far(exchange: SimExchange) -> None:
    exchange.add_fault(Fault("status", path=EXECUTIONS, status=500, after=3))
    kf = kfresearch.Client("sim", exchange=exchange, retry=RetryPolicy(max_attempts=1))
    try:
        with pytest.raises(kfresearch.ServerError) as caught:
            kf.trades("PF_XBTUSD", since="3h", progress=False)
    finally:
        exchange.faults.clear()
        kf.close()
    partial: Any = caught.value.partial
    assert isinstance(partial, pd.DataFrame)
    assert 100 <= len(partial) < 400
    assert partial.index.is_monotonic_increasing


def test_closing_the_client_stops_its_threads(exchange: SimExchange) -> None:
    def threads() -> int:
        return sum(t.name.startswith("kfresearch-request") for t in threading.enumerate())

    before = threads()
    kf = kfresearch.Client("sim", exchange=exchange)
    kf.candles("PF_XBTUSD", "1m", since="5d", progress=False)
    assert threads() > before
    kf.close()
    assert threads() == before
