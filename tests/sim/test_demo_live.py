"""demo on the live market source, with a simulator standing in for the live exchange.

The upstream is a :class:`SimExchange` on a fixed clock that the tests move,
reached through the same public API as the live exchange (in-process, no
socket; one test goes through ``KFRESEARCH_DEMO_UPSTREAM`` to a served one).
Every expected number is read from the upstream's own answers: its book, its
trades, its funding rate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import kfresearch
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock, parse_time_ms
from kfresearch.sim.demo import UNAVAILABLE, DemoExchange, demo_exchange
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.live import LiveSource
from kfresearch.sim.paper import PaperAccount
from kfresearch.sim.sqlite_ledger import SqliteLedger
from kfresearch.sim.transport import SimTransport
from kfresearch.stream.inprocess import InProcessConnector

NOW = "2026-11-01T00:20:00Z"
SYMBOL = "PF_XBTUSD"
UPSTREAM = "http://upstream.kfresearch.invalid"


@dataclass
class Setup:
    upstream: SimExchange
    demo: DemoExchange
    kf: kfresearch.Client

    def upstream_get(self, path: str, **params: object) -> dict[str, object]:
        answer = self.upstream.handle("GET", path + "?" + httpx.QueryParams(params).__str__(), {}, b"")
        body: dict[str, object] = httpx.Response(200, content=answer.body).json()
        return body

    def step(self, duration: str = "1m") -> int:
        """Move the upstream's clock; the demo follows at its next request."""
        return self.upstream.advance(duration)


@pytest.fixture(params=["websocket", "rest"])
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Setup]:
    """demo on an upstream reached through its WebSocket feeds (REST for snapshots), or
    through REST polling only: every test below must hold for both."""
    upstream = SimExchange(seed=42, clock=SimClock.fixed(NOW))
    http = httpx.Client(transport=SimTransport(upstream))
    if request.param == "websocket":
        source = LiveSource(UPSTREAM, http=http, poll_s=0.0, connector=InProcessConnector(upstream))
    else:
        source = LiveSource(UPSTREAM, http=http, poll_s=0.0, feed="rest")
    account = PaperAccount("test", SqliteLedger(tmp_path / "test.sqlite", balance=100_000))
    demo = DemoExchange(source, account)
    kf = kfresearch.connect("demo", exchange=demo, limiter=RateLimiter.unlimited())
    assert source.transport == request.param
    yield Setup(upstream, demo, kf)
    kf.close()
    source.close()


def test_public_data_is_the_upstream_s_own(setup: Setup) -> None:
    assert setup.kf.tickers().loc[SYMBOL, "mark_price"] == pytest.approx(
        setup.upstream.market.mark_price(SYMBOL, parse_time_ms(NOW)), rel=1e-9
    )
    assert setup.demo.source.name == "live"
    assert setup.demo.clock.now_ms() == parse_time_ms(NOW)


def test_a_market_buy_walks_the_upstream_book_level_by_level(setup: Setup) -> None:
    asks = setup.upstream_get("/derivatives/api/v3/orderbook", symbol=SYMBOL)["orderBook"]["asks"]  # type: ignore[index]
    (p1, s1), (p2, s2), (p3, _) = asks[:3]
    size = round(s1 + s2 + 0.0001, 4)  # the first two levels and a bit of the third
    result = setup.kf.place_order(SYMBOL, "buy", size, order_type="mkt")
    fills = setup.kf.fills().sort_values("fill_id")
    by_price = fills.groupby("price")["size"].sum().to_dict()
    assert by_price == pytest.approx({p1: s1, p2: s2, p3: 0.0001})
    assert set(fills["order_id"]) == {result.order_id}
    assert setup.kf.positions().loc[SYMBOL, "size"] == pytest.approx(size)


def _first_through(setup: Setup, limit: float, start_ms: int, end_ms: int) -> int | None:
    trades = setup.upstream.market.trades(SYMBOL, start_ms + 1, end_ms + 1)
    below = trades.time_ms[trades.price < limit]
    return int(below[0]) if len(below) else None


def test_a_resting_limit_fills_only_after_upstream_trades_go_through_it(setup: Setup) -> None:
    t0 = parse_time_ms(NOW)
    horizon = t0 + 30 * 60_000
    trades = setup.upstream.market.trades(SYMBOL, t0 + 1, horizon + 1)
    # the highest price below the market at which the first trade at or below it is strictly
    # through it: touching the price first would let a touch rule fill too early
    bid = float(setup.kf.tickers().loc[SYMBOL, "bid"])
    limit = None
    for candidate in sorted({float(p) for p in trades.price if p < bid}, reverse=True):
        at_or_below = trades.price <= candidate
        if at_or_below.any() and trades.price[at_or_below.argmax()] < candidate:
            if trades.time_ms[at_or_below.argmax()] > t0 + 2 * 60_000:
                limit = candidate
                break
    assert limit is not None
    through = _first_through(setup, limit, t0, horizon)
    assert through is not None
    order = setup.kf.place_order(SYMBOL, "buy", 0.001, order_type="lmt", limit_price=limit)
    while setup.upstream.clock.now_ms() + 60_000 <= through:
        setup.step("1m")
        assert order.order_id in setup.kf.open_orders().index  # nothing went through yet
    setup.step("1m")
    assert order.order_id not in setup.kf.open_orders().index
    fills = setup.kf.fills()
    assert list(fills["price"]) == [limit]
    assert list(fills["fill_type"]) == ["maker"]
    assert fills.index[0].value // 1_000_000 == setup.upstream.clock.now_ms()


def test_funding_is_charged_each_hour_at_the_upstream_rate(setup: Setup) -> None:
    setup.kf.place_order(SYMBOL, "buy", 0.5, order_type="mkt")
    rates = []
    for _ in range(2):
        body = setup.upstream_get("/derivatives/api/v3/tickers")
        (ticker,) = [t for t in body["tickers"] if t.get("symbol") == SYMBOL]  # type: ignore[union-attr]
        rates.append(float(ticker["fundingRate"]))
        setup.step("30m")
        setup.kf.positions()
        setup.step("30m")
        setup.kf.positions()
    log = setup.kf.account_log()
    funding = log[log["info"] == "funding rate change"].sort_index()
    assert len(funding) == 2
    assert list(funding["funding_rate"]) == pytest.approx(rates, rel=1e-12)
    # the first hour is charged from the order on (40 minutes), the second in full
    assert list(funding["realized_funding"]) == pytest.approx(
        [-0.5 * rates[0] * 40 / 60, -0.5 * rates[1]], rel=1e-9
    )


def test_an_unreachable_upstream_is_a_clear_error_naming_sim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFRESEARCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KFRESEARCH_DEMO_UPSTREAM", "http://127.0.0.1:9")  # discard: refused
    demo = demo_exchange("offline")
    assert demo.source.url == "http://127.0.0.1:9"
    with pytest.raises(kfresearch.NetworkError, match=r'127.0.0.1:9.*env="sim"'):
        kfresearch.connect("demo", exchange=demo)
    assert demo.paper.ledger.accounts == {}


class _Switch(httpx.BaseTransport):
    """An upstream transport that can be cut."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.up = inner, True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("cut", request=request)
        return self.inner.handle_request(request)


def test_an_upstream_lost_mid_session_accepts_no_order(tmp_path: Path) -> None:
    upstream = SimExchange(seed=42, clock=SimClock.fixed(NOW))
    switch = _Switch(SimTransport(upstream))
    source = LiveSource(UPSTREAM, http=httpx.Client(transport=switch), poll_s=0.0, feed="rest")
    account = PaperAccount("test", SqliteLedger(tmp_path / "test.sqlite"))
    kf = kfresearch.connect("demo", exchange=DemoExchange(source, account))
    kf.place_order(SYMBOL, "buy", 0.01, order_type="mkt")
    switch.up = False
    for call in (
        lambda: kf.place_order(SYMBOL, "buy", 0.01, order_type="mkt"),
        lambda: kf.place_order(SYMBOL, "buy", 0.01, limit_price=50_000),
        kf.tickers,
        kf.positions,
    ):
        with pytest.raises(kfresearch.MarketUnavailableError, match=r'env="sim"') as caught:
            call()
        assert caught.value.error == UNAVAILABLE
    (acc,) = account.ledger.accounts.values()
    assert len(acc.orders) == 1
    assert len(SqliteLedger(tmp_path / "test.sqlite").accounts[acc.account_id].orders) == 1
    switch.up = True
    assert kf.positions().loc[SYMBOL, "size"] == pytest.approx(0.01)


def test_the_ticket_and_panels_say_live_prices_and_paper_money(setup: Setup) -> None:
    from kfresearch.widgets import OrdersPanel, OrderTicket, PositionsPanel

    for widget in (OrderTicket(setup.kf, SYMBOL), OrdersPanel(setup.kf), PositionsPanel(setup.kf)):
        assert "DEMO · live prices · paper money" in widget.badge.value


def test_connect_demo_opens_the_named_account_with_the_chosen_balance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kfresearch.sim.demo import live_source

    upstream = SimExchange(seed=42, clock=SimClock.fixed(NOW))
    url = "http://connect-upstream.kfresearch.invalid"
    live_source(url, http=httpx.Client(transport=SimTransport(upstream)))
    monkeypatch.setenv("KFRESEARCH_DEMO_UPSTREAM", url)
    monkeypatch.setenv("KFRESEARCH_DATA_DIR", str(tmp_path))
    kf = kfresearch.connect("demo", account="carry-study", balance=25_000)
    assert repr(kf.paper) == "PaperAccount('carry-study', starting balance 25,000 USD)"
    assert kf.paper.path == tmp_path / "paper" / "carry-study.sqlite"
    first = kf.place_order(SYMBOL, "buy", 0.01, order_type="mkt")
    again = kfresearch.connect("demo", account="carry-study")  # a new kernel would do the same
    assert again.positions().loc[SYMBOL, "size"] == pytest.approx(0.01)
    second = again.place_order(SYMBOL, "buy", 0.01, order_type="mkt")
    assert second.order_id != first.order_id
    assert kf.positions().loc[SYMBOL, "size"] == pytest.approx(0.02)
    other = kfresearch.connect("demo", account="other")
    assert other.positions().empty
    assert other.paper.starting_balance == 100_000.0
    kf.paper.reset(balance=5_000)
    assert again.positions().empty
    assert again.paper.starting_balance == 5_000.0
    with pytest.raises(kfresearch.ValidationError, match="account"):
        kfresearch.connect("sim", account="carry-study")
    with pytest.raises(kfresearch.ConfigurationError, match="demo"):
        _ = kfresearch.connect("sim").paper


def test_the_live_source_reads_the_exchange_s_documented_bodies() -> None:
    """The reference's recorded bodies (numbers where the sim sends strings, fields missing)."""
    examples = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples"

    def example(name: str) -> Any:
        (body,) = json.loads((examples / name).read_text())["examples"].values()
        return body

    bodies = {
        "/derivatives/api/v3/tickers": example("tickers.kraken-doc.json"),
        "/derivatives/api/v3/instruments": example("instruments.kraken-doc.json"),
        "/derivatives/api/v3/orderbook": {"orderBook": example("orderbook.kraken-doc.json")}
        | {"result": "success", "serverTime": "2022-06-17T10:47:00.000Z"},
        "/derivatives/api/v3/history": example("history_public_trades.json"),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=bodies[request.url.path])

    source = LiveSource(
        "https://futures.example",
        http=httpx.Client(transport=httpx.MockTransport(answer)),
        feed="rest",
    )
    now = source.now_ms()
    assert now == parse_time_ms(bodies["/derivatives/api/v3/tickers"]["serverTime"])
    spec = source.instrument("pi_xbtusd", now)
    assert spec is not None
    assert spec.is_inverse
    assert spec.tick_size == 0.5
    assert source.mark_price("PI_XBTUSD", now) == 30209.9
    assert source.index_price("PI_XBTUSD", now) == 21087.8
    assert source.last_price("PI_XBTUSD", now) == 49289
    absolute, relative = source.funding_rate("PI_XBTUSD", now // 3_600_000 * 3_600_000)
    assert absolute == 1.18588737106e-07
    assert relative == pytest.approx(absolute * 30209.9)  # inverse: relative = absolute x price
    bids, asks = source.book("PI_XBTUSD", now)
    assert bids[0] == (40178.0, 5.0)
    assert asks == [(40186.0, 5.0183), (40190.0, 0.4183)]
    trades = source.trades("PI_XBTUSD", 0, now)
    assert list(trades.price) == [0.7921]
    assert list(trades.size) == [1068.0]
    assert not trades.buy[0]


def test_the_unified_websocket_on_demo_answers_the_upstream_s_ticker(setup: Setup) -> None:
    """protocol="uws" (the default from 2027-03-01): demo's ticker channel reads the
    upstream's ticker (24 h statistics, open interest, funding prediction) from the source."""
    uws = kfresearch.connect("demo", exchange=setup.demo, protocol="uws")
    try:
        got = uws.tickers().loc[SYMBOL]
    finally:
        uws.close()
    (row,) = [
        t for t in setup.upstream_get("/derivatives/api/v3/tickers")["tickers"]  # type: ignore[attr-defined]
        if t.get("symbol") == SYMBOL
    ]
    assert got["mark_price"] == pytest.approx(float(row["markPrice"]), rel=1e-9)
    assert (got["bid"], got["ask"]) == (float(row["bid"]), float(row["ask"]))
    stats = setup.demo.source.stats_24h(SYMBOL, setup.demo.clock.now_ms())
    assert stats.volume == pytest.approx(float(row["vol24h"]))
    assert setup.demo.source.open_interest(SYMBOL, 0) == pytest.approx(float(row["openInterest"]))
    absolute, _ = setup.demo.source.funding_prediction(SYMBOL, setup.demo.clock.now_ms())
    assert absolute == pytest.approx(float(row["fundingRatePrediction"]))


def test_kf_stream_on_demo_relays_the_upstream_and_the_paper_account(setup: Setup) -> None:
    s = setup.kf.stream()
    try:
        for feed in ("ticker", "book", "trade"):
            s.subscribe(feed, [SYMBOL])
        s.subscribe("fills")
        placed = setup.kf.place_order(SYMBOL, "buy", 0.01, order_type="mkt")
        setup.step("1m")
        s.sync()
        book = setup.upstream_get("/derivatives/api/v3/orderbook", symbol=SYMBOL)["orderBook"]
        frame = s.book(SYMBOL).frame()
        for side, levels in (("bid", book["bids"]), ("ask", book["asks"])):  # type: ignore[index]
            rows = frame[frame["side"] == side]
            assert list(zip(rows["price"], rows["size"], strict=True))[:5] == [
                (float(p), float(q)) for p, q in levels[:5]
            ]
        now = setup.upstream.clock.now_ms()
        market = setup.upstream.market
        printed = market.trades(SYMBOL, now - 2 * 3_600_000, now + 1)
        by_uid = {
            market.trade_uid(SYMBOL, int(i)): float(p)
            for i, p in zip(printed.trade_id, printed.price, strict=True)
        }
        relayed = s.trades(SYMBOL)
        last_minute = relayed[relayed.index.asi8 // 1_000_000 > now - 60_000]
        assert len(last_minute) > 0  # the minute's trades came as they printed upstream
        assert {u: by_uid.get(u) for u in relayed["uid"]} == dict(
            zip(relayed["uid"], relayed["price"], strict=True)
        )
        (ticker,) = [
            t for t in setup.upstream_get("/derivatives/api/v3/tickers")["tickers"]  # type: ignore[attr-defined]
            if t.get("symbol") == SYMBOL
        ]
        assert s.tickers().loc[SYMBOL, "mark_price"] == pytest.approx(
            float(ticker["markPrice"]), rel=1e-9
        )
        assert set(s.fills()["order_id"]) == {placed.order_id}  # the paper account's fill
    finally:
        s.close()
