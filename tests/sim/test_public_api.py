"""Public REST handlers of the simulator, called directly with a Context."""

from __future__ import annotations

import base64
import itertools
import json
import types
from typing import Any

import numpy as np
import pytest

from kfresearch.sim import history_api, public_api  # noqa: F401  (registers the routes)
from kfresearch.sim.clock import SimClock, parse_time_ms
from kfresearch.sim.instruments import DAY_MS, FEE_SCHEDULE_UID, HOUR_MS
from kfresearch.sim.market import SyntheticMarket
from kfresearch.sim.routes import match
from kfresearch.sim.routing import Answer, Context, SimError

NOW = parse_time_ms("2026-11-01T00:00:00Z")
EXAMPLE_PERP_FIELDS = {
    "symbol",
    "pair",
    "base",
    "quote",
    "type",
    "tickSize",
    "contractSize",
    "tradeable",
    "impactMidSize",
    "maxPositionSize",
    "openingDate",
    "marginLevels",
    "fundingRateCoefficient",
    "maxRelativeFundingRate",
    "contractValueTradePrecision",
    "feeScheduleUid",
    "postOnly",
    "retailMarginLevels",
    "category",
    "tags",
    "tradfi",
    "mtf",
}
TICKER_DECIMALS = (
    "last",
    "markPrice",
    "bid",
    "bidSize",
    "ask",
    "askSize",
    "vol24h",
    "volumeQuote",
    "openInterest",
    "open24h",
    "high24h",
    "low24h",
    "lastSize",
    "indexPrice",
    "change24h",
)


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return SyntheticMarket(seed=11)


def call(market: SyntheticMarket, path: str, now: int = NOW, **params: Any) -> Any:
    """Route ``GET path`` like the exchange does and call the handler."""
    found = match("GET", path)
    assert found is not None, path
    route, path_params = found
    exchange = types.SimpleNamespace(market=market, clock=SimClock.fixed(now))
    ctx = Context(
        exchange=exchange,
        method="GET",
        path=path,
        params={k: [str(v)] for k, v in params.items()},
        path_params=path_params,
        now_ms=now,
    )
    body = route.handler(ctx)
    if isinstance(body, Answer) and isinstance(body.payload, bytes):
        return json.loads(body.payload)  # a history page, served as the bytes it was built as
    json.dumps(body)  # every answer is JSON-serialisable
    return body


# -- instruments ----------------------------------------------------------------


def test_instruments_have_the_reference_fields(market: SyntheticMarket) -> None:
    rows = {r["symbol"]: r for r in call(market, "/derivatives/api/v3/instruments")["instruments"]}
    assert len(rows) == 12
    pf, pi, fi = rows["PF_XBTUSD"], rows["PI_XBTUSD"], rows["FI_XBTUSD_261225"]
    assert EXAMPLE_PERP_FIELDS <= set(pf)
    assert pf["tickSize"] == 1
    assert isinstance(pf["tickSize"], int)
    assert pf["contractValueTradePrecision"] == 4
    assert pf["type"] == "flexible_futures"
    assert pf["marginLevels"][0] == {
        "numNonContractUnits": 0,
        "initialMargin": 0.02,
        "maintenanceMargin": 0.01,
    }
    assert "lastTradingTime" not in pf
    assert pi["underlying"] == "rr_xbtusd"
    assert pi["tickSize"] == 0.5
    assert set(pi["marginLevels"][1]) == {"contracts", "initialMargin", "maintenanceMargin"}
    assert pi["retailMarginLevels"] == [
        {"contracts": 0, "initialMargin": 0.5, "maintenanceMargin": 0.25}
    ]
    assert fi["lastTradingTime"] == "2026-12-25T16:00:00.000Z"
    assert "fundingRateCoefficient" not in fi
    assert isinstance(fi["isin"], str)
    assert len(fi["isin"]) == 12
    assert rows["PF_ETHUSD"]["tickSize"] == 0.1
    assert {r["feeScheduleUid"] for r in rows.values()} == {FEE_SCHEDULE_UID}
    assert all(r["tradeable"] is True for r in rows.values())
    flex = call(market, "/derivatives/api/v3/instruments", contractType="futures_inverse")
    assert {r["symbol"] for r in flex["instruments"]} == {
        "PI_XBTUSD",
        "PI_ETHUSD",
        "FI_XBTUSD_261127",
        "FI_XBTUSD_261225",
    }


def test_instrument_status(market: SyntheticMarket) -> None:
    listed = call(market, "/derivatives/api/v3/instruments/status")["instrumentStatus"]
    assert len(listed) == 12
    one = call(market, "/derivatives/api/v3/instruments/pi_xbtusd/status")
    assert one == {
        "tradeable": "PI_XBTUSD",
        "experiencingDislocation": False,
        "priceDislocationDirection": None,
        "experiencingExtremeVolatility": False,
        "extremeVolatilityInitialMarginMultiplier": 1,
    }
    with pytest.raises(SimError) as err:
        call(market, "/derivatives/api/v3/instruments/PF_NOPE/status")
    assert err.value.status == 404


# -- tickers --------------------------------------------------------------------


def test_tickers_send_decimals_as_strings(market: SyntheticMarket) -> None:
    rows = {r["symbol"]: r for r in call(market, "/derivatives/api/v3/tickers")["tickers"]}
    assert {"in_xbtusd", "rr_xbtusd", "in_ethusd", "rr_ethusd"} <= set(rows)
    for symbol in ("PF_XBTUSD", "PI_ETHUSD", "FI_XBTUSD_261127", "PF_DOGEUSD"):
        row = rows[symbol]
        for field in TICKER_DECIMALS:
            assert isinstance(row[field], str), (symbol, field)
            float(row[field])
        assert row["suspended"] is False
        assert row["postOnly"] is False
        assert float(row["bid"]) < float(row["ask"])
        assert float(row["low24h"]) <= float(row["last"]) <= float(row["high24h"])
        assert row["lastTime"].endswith("Z")
        assert parse_time_ms(row["lastTime"]) <= NOW
        assert ("fundingRate" in row) is symbol.startswith("P")
    assert rows["PF_XBTUSD"]["tag"] == "perpetual"
    assert rows["FI_XBTUSD_261127"]["tag"] == "month"
    assert rows["PF_XBTUSD"]["pair"] == "XBT:USD"
    assert isinstance(rows["PF_XBTUSD"]["fundingRatePrediction"], str)
    # no exponent in decimal strings, even for tiny funding rates
    assert "e" not in rows["PI_XBTUSD"]["fundingRate"].lower()
    assert set(rows["rr_xbtusd"]) == {"symbol", "last", "lastTime"}
    # the reference rate is fixed at 16:00 London (UTC in winter) the day before
    assert rows["rr_xbtusd"]["lastTime"] == "2026-10-31T16:00:00.000Z"


def test_ticker_by_symbol(market: SyntheticMarket) -> None:
    one = call(market, "/derivatives/api/v3/tickers/pf_xbtusd")["ticker"]
    listed = [
        r
        for r in call(market, "/derivatives/api/v3/tickers")["tickers"]
        if r["symbol"] == "PF_XBTUSD"
    ]
    assert one == listed[0]
    absolute, _ = market.funding_rate("PF_XBTUSD", NOW // HOUR_MS * HOUR_MS)
    assert float(one["fundingRate"]) == pytest.approx(absolute, rel=1e-12)
    stats = market.stats_24h("PF_XBTUSD", NOW)
    assert float(one["vol24h"]) == pytest.approx(stats.volume)
    index = call(market, "/derivatives/api/v3/tickers/IN_XBTUSD")["ticker"]
    assert index["symbol"] == "in_xbtusd"
    with pytest.raises(SimError) as err:
        call(market, "/derivatives/api/v3/tickers/PF_NOPEUSD")
    assert (err.value.error, err.value.status) == ("notFound", 404)


def test_same_seed_same_payloads_other_seed_differs() -> None:
    a, b, c = SyntheticMarket(3), SyntheticMarket(3), SyntheticMarket(4)
    path = "/derivatives/api/v3/tickers/PF_ETHUSD"
    assert call(a, path) == call(b, path) != call(c, path)
    candles = "/api/charts/v1/trade/PF_ETHUSD/5m"
    assert call(a, candles, count=50) == call(b, candles, count=50) != call(c, candles, count=50)


# -- order book and recent trades ---------------------------------------------------


def test_orderbook(market: SyntheticMarket) -> None:
    book = call(market, "/derivatives/api/v3/orderbook", symbol="pf_ethusd")["orderBook"]
    bids, asks = book["bids"], book["asks"]
    assert len(bids) >= 25
    assert len(asks) >= 25
    assert all(isinstance(x, int | float) for level in bids + asks for x in level)
    assert all(b1[0] > b2[0] for b1, b2 in itertools.pairwise(bids))
    assert all(a1[0] < a2[0] for a1, a2 in itertools.pairwise(asks))
    assert bids[0][0] < asks[0][0]
    ticks = np.array([p for p, _ in bids + asks]) / 0.1
    assert np.all(np.abs(ticks - np.rint(ticks)) < 1e-6)
    with pytest.raises(SimError) as err:
        call(market, "/derivatives/api/v3/orderbook")
    assert err.value.error == "requiredArgumentMissing"


def test_history_returns_the_100_trades_before_last_time(market: SyntheticMarket) -> None:
    last_time = "2026-10-31T12:00:00.000Z"
    rows = call(market, "/derivatives/api/v3/history", symbol="PF_XBTUSD", lastTime=last_time)[
        "history"
    ]
    assert len(rows) == 100
    times = [parse_time_ms(r["time"]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert max(times) < parse_time_ms(last_time)
    first = rows[0]
    assert set(first) == {"time", "trade_id", "price", "size", "side", "type", "uid"}
    assert isinstance(first["price"], int | float)
    assert isinstance(first["trade_id"], int)
    assert first["side"] in {"buy", "sell"}
    assert first["type"] == "fill"
    trades = market.trades(
        "PF_XBTUSD", NOW - DAY_MS, parse_time_ms(last_time), limit=100, descending=True
    )
    assert [r["trade_id"] for r in rows] == trades.trade_id.tolist()
    assert [r["size"] for r in rows] == trades.size.tolist()


# -- charts ---------------------------------------------------------------------------


def test_chart_listings(market: SyntheticMarket) -> None:
    assert call(market, "/api/charts/v1/") == ["mark", "spot", "trade"]
    assert call(market, "/api/charts/v1") == ["mark", "spot", "trade"]
    symbols = call(market, "/api/charts/v1/trade")
    assert "PF_XBTUSD" in symbols
    assert "FI_XBTUSD_261127" in symbols
    assert call(market, "/api/charts/v1/mark/PF_XBTUSD") == [
        "1m",
        "5m",
        "15m",
        "30m",
        "1h",
        "4h",
        "12h",
        "1d",
        "1w",
    ]


@pytest.mark.parametrize("symbol", ["PF_XBTUSD", "PI_ETHUSD"])
def test_thirty_days_of_minute_candles_page_by_page(market: SyntheticMarket, symbol: str) -> None:
    start = NOW // 1000 - 30 * 86_400
    path = f"/api/charts/v1/trade/{symbol}/1m"
    rows: list[dict[str, Any]] = []
    cursor = start
    while True:
        body = call(market, path, **{"from": cursor, "to": NOW // 1000 - 1})
        assert len(body["candles"]) <= 2000
        rows += body["candles"]
        if not body["more_candles"]:
            break
        cursor = body["candles"][-1]["time"] // 1000 + 1
    times = np.array([r["time"] for r in rows])
    assert len(rows) == 43_200
    assert times[0] == start * 1000
    assert np.all(np.diff(times) == 60_000)  # no gaps, no duplicates
    row = rows[0]
    assert all(isinstance(row[k], str) for k in ("open", "high", "low", "close"))
    assert isinstance(row["volume"], int | float)
    o, h, lo, c = (np.array([float(r[k]) for r in rows]) for k in ("open", "high", "low", "close"))
    assert np.all(lo <= np.minimum(o, c))
    assert np.all(h >= np.maximum(o, c))
    assert all(r["volume"] > 0 for r in rows)


def test_candle_volume_equals_public_trades(market: SyntheticMarket) -> None:
    start = NOW - 3 * HOUR_MS
    candles = call(
        market, "/api/charts/v1/trade/PF_SOLUSD/15m", **{"from": start // 1000, "count": 4}
    )["candles"]
    elements = call(
        market,
        "/api/history/v3/market/PF_SOLUSD/executions",
        since=start,
        before=start + 3_600_000,
        sort="asc",
    )["elements"]
    for i, candle in enumerate(candles):
        lo, hi = start + i * 900_000, start + (i + 1) * 900_000
        window = [
            e["event"]["Execution"]["execution"] for e in elements if lo <= int(e["timestamp"]) < hi
        ]
        assert candle["volume"] == pytest.approx(sum(float(x["quantity"]) for x in window))
        assert candle["open"] == f"{float(window[0]['price']):.2f}"
        assert candle["close"] == f"{float(window[-1]['price']):.2f}"
        assert float(candle["high"]) == max(float(x["price"]) for x in window)


def test_candle_parameters(market: SyntheticMarket) -> None:
    path = "/api/charts/v1/trade/pf_xbtusd/1M"  # resolutions are case-insensitive
    body = call(market, path, **{"from": NOW // 1000 - 3 * 86_400})
    assert len(body["candles"]) == 2000
    assert body["more_candles"] is True
    assert call(market, path, count=5)["candles"][-1]["time"] <= NOW
    recent = call(market, path, count=5)
    assert len(recent["candles"]) == 5
    assert recent["more_candles"] is True
    future = call(market, path, **{"from": NOW // 1000 + 3600})
    assert future == {"candles": [], "more_candles": False}
    mark = call(market, "/api/charts/v1/mark/PF_XBTUSD/1h", count=3)["candles"]
    assert [c["volume"] for c in mark] == [0, 0, 0]
    spot = call(market, "/api/charts/v1/spot/PI_XBTUSD/1d", count=2)["candles"]
    assert float(spot[-1]["open"]) == pytest.approx(market.index_price("XBT", NOW), abs=0.01)
    week = call(market, "/api/charts/v1/trade/PF_XBTUSD/1w", count=3)["candles"]
    assert all((c["time"] // DAY_MS - 4) % 7 == 0 for c in week)  # Mondays
    with pytest.raises(SimError) as err:
        call(market, "/api/charts/v1/trade/PF_XBTUSD/2m")
    assert err.value.status == 400
    assert err.value.body["errors"][0]["msg"] == "Invalid resolution"
    with pytest.raises(SimError) as err:
        call(market, "/api/charts/v1/trade/PF_NOPEUSD/1m")
    assert err.value.status == 404


# -- market history ------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["desc", "asc"])
def test_executions_page_with_continuation_tokens(market: SyntheticMarket, sort: str) -> None:
    since, before = NOW - 2 * HOUR_MS, NOW - HOUR_MS
    path = "/api/history/v3/market/PF_XBTUSD/executions"
    seen: list[int] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"since": since, "before": before, "sort": sort, "count": 500}
        if token:
            params["continuation_token"] = token
        body = call(market, path, **params)
        assert body["len"] == str(len(body["elements"]))
        seen += [int(e["timestamp"]) for e in body["elements"]]
        token = body.get("continuationToken")
        if token is None:
            break
        base64.b64decode(token, validate=True)
    expected = market.trades("PF_XBTUSD", since, before).time_ms.tolist()
    assert seen == (expected[::-1] if sort == "desc" else expected)


def test_execution_elements_are_shaped_like_the_event_store(market: SyntheticMarket) -> None:
    body = call(market, "/api/history/v3/market/pf_xbtusd/executions", count=3)
    assert body["len"] == "3"
    element = body["elements"][0]
    assert isinstance(element["timestamp"], str)
    event = element["event"]["Execution"]
    execution = event["execution"]
    assert event["takerReducedQuantity"] == ""
    for key in ("quantity", "price", "markPrice", "usdValue"):
        assert isinstance(execution[key], str)
    assert isinstance(execution["limitFilled"], bool)
    taker, maker = execution["takerOrder"], execution["makerOrder"]
    assert {taker["direction"], maker["direction"]} == {"Buy", "Sell"}
    assert taker["quantity"] == execution["quantity"]
    assert float(maker["quantity"]) >= float(execution["quantity"])
    assert maker["limitPrice"] == execution["price"]
    # the execution uid is the public trade's uid from /history
    history = call(market, "/derivatives/api/v3/history", symbol="PF_XBTUSD")["history"]
    assert execution["uid"] == history[0]["uid"]
    prices = call(market, "/api/history/v3/market/PF_XBTUSD/price", count=2)
    assert prices["len"] == "2"
    assert float(prices["elements"][0]["event"]["price"]) == pytest.approx(
        market.mark_price("PF_XBTUSD", NOW)
    )


# -- funding and fees ------------------------------------------------------------------


def test_historical_funding_matches_the_market(market: SyntheticMarket) -> None:
    v4 = call(market, "/derivatives/api/v4/historicalfundingrates", symbol="PF_ETHUSD")
    v3 = call(market, "/derivatives/api/v3/historical-funding-rates", symbol="pf_ethusd")
    assert v3 == v4
    rates = v4["rates"]
    hours = [parse_time_ms(r["timestamp"]) for r in rates]
    assert hours[-1] == NOW
    assert hours[0] <= NOW - 30 * DAY_MS
    assert np.all(np.diff(hours) == HOUR_MS)
    for row in rates[:: len(rates) // 20]:
        absolute, relative = market.funding_rate("PF_ETHUSD", parse_time_ms(row["timestamp"]))
        assert row["fundingRate"] == absolute
        assert row["relativeFundingRate"] == relative
        assert isinstance(row["fundingRate"], float)
        assert abs(relative) <= 0.001
    with pytest.raises(SimError) as err:
        call(market, "/derivatives/api/v4/historicalfundingrates", symbol="FI_XBTUSD_261225")
    assert (err.value.error, err.value.status) == ("invalidArgument", 400)


def test_feeschedules(market: SyntheticMarket) -> None:
    schedules = call(market, "/derivatives/api/v3/feeschedules")["feeSchedules"]
    assert len(schedules) == 1
    assert schedules[0]["uid"] == FEE_SCHEDULE_UID
    first = schedules[0]["tiers"][0]
    assert first == {"makerFee": 0.02, "takerFee": 0.05, "usdVolume": 0.0}
    volumes = [t["usdVolume"] for t in schedules[0]["tiers"]]
    assert volumes == sorted(volumes)
