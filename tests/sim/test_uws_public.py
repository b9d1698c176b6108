"""Public channels of the simulator's Unified WebSocket, in-process (reference §1.6, §1.8, §6).

Each channel is checked against the v3 REST answer at the same simulated time,
so the two protocols describe one market.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from uws_helpers import ClientBook, Conn, answers, plain_checksum, pushes

from kfresearch.sim.exchange import SimExchange

pytestmark = pytest.mark.anyio

DERIV = {"asset_class": "derivatives"}
V3 = "/derivatives/api/v3"


@pytest.fixture
def exchange() -> SimExchange:
    return SimExchange(seed=1)


def _v3(exchange: SimExchange, path: str) -> Any:
    return orjson.loads(exchange.handle("GET", V3 + path, {}, b"").body)


async def _open(exchange: SimExchange) -> Conn:
    conn = Conn(exchange)
    await conn.open()
    return conn


async def test_status_first_then_ping(exchange: SimExchange) -> None:
    conn = Conn(exchange)
    (status,) = await conn.open()
    assert status["channel"] == "status"
    assert status["type"] == "update"
    (data,) = status["data"]
    assert data["system"] == "online"
    assert data["api_version"] == "v2"
    assert 0 <= data["connection_id"] < 2**64
    (pong,) = await conn.request("ping")
    assert pong["method"] == "pong"
    assert pong["req_id"] == 1
    assert pong["time_in"].endswith("Z")
    assert len(pong["time_in"]) == 27


async def test_ticker_matches_v3(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    out = await conn.request("subscribe", channel="ticker", symbol=["PF_XBTUSD"], **DERIV)
    (ack,) = answers(out)
    assert ack["success"] is True
    assert ack["result"] == {
        "channel": "ticker", "symbol": "PF_XBTUSD", "snapshot": True, "event_trigger": "trades"
    }
    (snapshot,) = pushes(out, "ticker")
    assert snapshot["type"] == "snapshot"
    (row,) = snapshot["data"]
    v3 = _v3(exchange, "/tickers/PF_XBTUSD")["ticker"]
    pairs = {
        "bid": "bid", "bid_qty": "bidSize", "ask": "ask", "ask_qty": "askSize",
        "last": "last", "volume": "vol24h", "low": "low24h", "high": "high24h",
        "mark_price": "markPrice", "index_price": "indexPrice",
        "open_interest": "openInterest", "funding_rate": "fundingRate",
        "funding_rate_prediction": "fundingRatePrediction", "change_pct": "change24h",
        "last_qty": "lastSize", "open": "open24h", "volume_quote": "volumeQuote",
    }
    for uws, rest in pairs.items():
        assert row[uws] == pytest.approx(float(v3[rest]), rel=1e-9), uws
    assert (row["tag"], row["pair"], row["suspended"], row["post_only"]) == (
        v3["tag"], v3["pair"], v3["suspended"], v3["postOnly"]
    )
    assert row["last_time"] == v3["lastTime"].replace("Z", "000Z")
    assert row["change"] == pytest.approx(float(v3["last"]) - float(v3["open24h"]))
    assert row["timestamp"] == "2026-11-01T00:00:00.000000Z"


async def test_ticker_updates_on_trades_and_bbo(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    await conn.request("subscribe", channel="ticker", symbol=["PF_ETHUSD"], **DERIV)
    await conn.request(
        "subscribe", channel="ticker", symbol=["PF_XBTUSD"], event_trigger="bbo", **DERIV
    )
    updates = pushes(await conn.tick(5), "ticker")
    assert {u["data"][0]["symbol"] for u in updates} == {"PF_ETHUSD", "PF_XBTUSD"}
    assert all(u["type"] == "update" for u in updates)
    assert pushes(await conn.tick(), "ticker") == []  # nothing new at the same time


async def test_book_snapshot_is_v3_orderbook_at_every_depth(exchange: SimExchange) -> None:
    exchange.advance("60s")
    v3 = _v3(exchange, "/orderbook?symbol=PF_XBTUSD")["orderBook"]
    for depth in (10, 100, 1000):
        conn = await _open(exchange)
        out = await conn.request(
            "subscribe", channel="book", symbol=["PF_XBTUSD"], depth=depth, **DERIV
        )
        (ack,) = answers(out)
        assert ack["result"]["depth"] == depth
        (book,) = pushes(out, "book")[0]["data"]
        shown = min(depth, len(v3["bids"]))
        assert [[lv["price"], lv["qty"]] for lv in book["bids"]] == v3["bids"][:shown]
        assert [[lv["price"], lv["qty"]] for lv in book["asks"]] == v3["asks"][:shown]


def _check_books(conn: Conn, book: ClientBook) -> list[tuple[str, bool]]:
    """Apply the book pushes received so far: (type, checksum agrees) for each."""
    out = []
    for message in conn.texts():
        if message.get("channel") == "book":
            (entry,) = message["data"]
            out.append((message["type"], book.apply(entry) == int(entry["checksum"])))
    return out


@pytest.mark.parametrize(("symbol", "depth"), [("PF_XBTUSD", 10), ("PF_DOGEUSD", 25)])
async def test_book_checksums_hold_on_every_update(
    exchange: SimExchange, symbol: str, depth: int
) -> None:
    conn = await _open(exchange)
    await conn.send("subscribe", channel="book", symbol=[symbol], depth=depth, **DERIV)
    book = ClientBook(depth)
    checks = _check_books(conn, book)
    for _ in range(1200):
        exchange.advance("1s")
        await conn.session.pump()
        checks += _check_books(conn, book)
    assert checks[0] == ("snapshot", True)
    assert checks.count(("update", True)) == len(checks) - 1 >= 1000
    prices = [*book.bids, *book.asks]
    assert any(p.endswith("0") for p in prices)  # whole prices end in ".0", fine ticks in 0s


def test_plain_checksum_agrees_with_the_module_on_scientific_quantities() -> None:
    import random

    from kfresearch.checksum import book_checksum

    rng = random.Random(3)
    for _ in range(2000):
        levels = [
            (f"{rng.uniform(0.0001, 100000):.{rng.randint(0, 8)}f}",
             rng.choice([f"{rng.uniform(1e-8, 9e-5):.2g}", repr(rng.uniform(0, 10)), "53",
                         f"{rng.uniform(0, 1):.8f}"]))
            for _ in range(rng.randint(0, 25))
        ]
        asks, bids = levels[::2], levels[1::2]
        assert book_checksum(asks, bids) == plain_checksum(asks, bids)
    vector_asks = [("45285.21000000", "1.5"), ("45286.41545719", "53")]
    vector_bids = [("45282.11000000", "0.45"), ("45281.01000000", "0.0001")]
    assert book_checksum(vector_asks, vector_bids) == plain_checksum(
        vector_asks, vector_bids) == 252777935
    assert book_checksum([("1.0", "5.1e-05")], []) == plain_checksum([("1.0", "5.1e-05")], [])


async def test_corrupted_update_is_caught_and_a_resubscribe_repairs_it(
    exchange: SimExchange,
) -> None:
    from kfresearch.sim.faults import Fault

    conn = await _open(exchange)
    params = {"channel": "book", "symbol": ["PF_XBTUSD"], "depth": 10, **DERIV}
    await conn.send("subscribe", **params)
    book = ClientBook(10)
    checks = _check_books(conn, book)
    exchange.add_fault(Fault("ws_corrupt", path="/v2/public/book", count=1))
    exchange.advance("1s")
    await conn.session.pump()
    checks += _check_books(conn, book)
    assert checks == [("snapshot", True), ("update", False)]
    (ack,) = await conn.request("unsubscribe", **params)
    assert ack["success"] is True
    book = ClientBook(10)
    await conn.send("subscribe", **params)
    exchange.advance("1s")
    await conn.session.pump()
    assert _check_books(conn, book) == [("snapshot", True), ("update", True)]


async def test_skipped_update_is_never_sent(exchange: SimExchange) -> None:
    from kfresearch.sim.faults import Fault

    conn = await _open(exchange)
    await conn.request("subscribe", channel="book", symbol=["PF_XBTUSD"], **DERIV)
    exchange.add_fault(Fault("ws_skip", path="/v2/public/book", count=1, after=1))
    stamps = []
    for _ in range(3):
        exchange.advance("1s")
        stamps += [m["data"][0]["timestamp"] for m in pushes(await conn.tick(), "book")]
    assert stamps == ["2026-11-01T00:00:01.000000Z", "2026-11-01T00:00:03.000000Z"]


async def test_trade_snapshot_and_updates_match_v3_history(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    out = await conn.request(
        "subscribe", channel="trade", symbol=["PF_XBTUSD"], snapshot=True, **DERIV
    )
    (snapshot,) = pushes(out, "trade")
    rows = snapshot["data"]
    assert len(rows) == 50
    assert [r["trade_id"] for r in rows] == sorted(r["trade_id"] for r in rows)  # oldest first
    history = _v3(exchange, "/history?symbol=PF_XBTUSD")["history"]
    newest = max(history, key=lambda h: h["trade_id"])
    assert rows[-1]["trade_id"] == newest["trade_id"]
    assert rows[-1]["price"] == pytest.approx(float(newest["price"]))
    assert rows[-1]["qty"] == pytest.approx(float(newest["size"]))
    assert rows[-1]["side"] == newest["side"]
    updates = pushes(await conn.tick(30), "trade")
    new = [r for u in updates for r in u["data"]]
    assert new
    assert new[0]["trade_id"] > rows[-1]["trade_id"]
    assert [r["trade_id"] for r in new] == sorted(r["trade_id"] for r in new)
    assert all(r["timestamp"] > rows[-1]["timestamp"] for r in new)
    assert {r["ord_type"] for r in new} == {"market"}


async def test_trade_snapshot_is_off_by_default(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    out = await conn.request("subscribe", channel="trade", symbol=["PF_XBTUSD"], **DERIV)
    assert answers(out)[0]["result"]["snapshot"] is False
    assert pushes(out, "trade") == []


@pytest.mark.parametrize("tick_type", ["trade", "mark", "spot"])
async def test_ohlc_matches_v3_charts(exchange: SimExchange, tick_type: str) -> None:
    exchange.advance("150s")
    conn = await _open(exchange)
    out = await conn.request(
        "subscribe", channel="ohlc", symbol=["PF_XBTUSD"], interval=1, tick_type=tick_type,
        **DERIV,
    )
    (snapshot,) = pushes(out, "ohlc")
    candles = snapshot["data"]
    assert len(candles) == 720  # the last 720 (Spot v2's snapshot size)
    assert candles[-1]["interval_begin"] == "2026-11-01T00:02:00.000000Z"
    v3 = orjson.loads(exchange.handle(
        "GET", f"/api/charts/v1/{tick_type}/PF_XBTUSD/1m?from=1793491200", {}, b"").body)
    first = v3["candles"][0]
    match = next(c for c in candles if c["interval_begin"] == "2026-11-01T00:00:00.000000Z")
    for name in ("open", "high", "low", "close"):
        assert match[name] == pytest.approx(float(first[name])), name
    if tick_type == "trade":
        assert match["volume"] == pytest.approx(float(first["volume"]))
        assert match["trades"] > 0
    else:
        assert (match["trades"], match["volume"]) == (0, 0)
    updates = pushes(await conn.tick(60), "ohlc")
    begins = [c["interval_begin"] for u in updates for c in u["data"]]
    assert "2026-11-01T00:03:00.000000Z" in begins


async def test_instrument_lists_every_v3_contract(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    out = await conn.request("subscribe", channel="instrument", **DERIV)
    (snapshot,) = pushes(out, "instrument")
    pairs = {p["symbol"]: p for p in snapshot["data"]["pairs"]}
    v3 = {i["symbol"]: i for i in _v3(exchange, "/instruments")["instruments"]}
    assert set(pairs) == {s for s in v3 if not s.startswith(("in_", "rr_"))}
    xbt, rest = pairs["PF_XBTUSD"], v3["PF_XBTUSD"]
    assert xbt["tick_size"] == rest["tickSize"]
    assert xbt["price_increment"] == rest["tickSize"]
    assert xbt["contract_value_trade_precision"] == rest["contractValueTradePrecision"]
    assert xbt["qty_increment"] == 10.0 ** -rest["contractValueTradePrecision"]
    assert xbt["margin_levels"][0]["initial_margin"] == rest["marginLevels"][0]["initialMargin"]
    assert xbt["opening_date"].endswith(".000000Z")
    assert {a["id"] for a in snapshot["data"]["assets"]} >= {"USD", "XBT"}


async def test_heartbeat_once_a_second_while_subscribed(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    assert await conn.tick(1) == []  # nothing subscribed: silence
    await conn.request("subscribe", channel="instrument", **DERIV)
    beats = [m for m in await conn.tick(1) if m.get("channel") == "heartbeat"]
    assert beats == [{"channel": "heartbeat"}]
    assert [m for m in await conn.tick() if m.get("channel") == "heartbeat"] == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"channel": "ticker", "symbol": ["PF_XBTUSD"]}, "EGeneral:Invalid arguments:asset_class is required"),
        ({"channel": "ticker", "symbol": ["XBT/USD"], "asset_class": "spot"}, "not served"),
        ({"channel": "candles", **DERIV}, "channel candles is not served"),
        ({"channel": "ticker", "symbol": ["PF_XBTUSD"], "leverage": 5, **DERIV},
         "Unsupported field: 'leverage'"),
        ({"channel": "book", "symbol": ["PF_XBTUSD"], "depth": 7, **DERIV},
         "depth must be one of 10, 25, 100, 500, 1000"),
        ({"channel": "ohlc", "symbol": ["PF_XBTUSD"], **DERIV}, "interval is required"),
        ({"channel": "executions", **DERIV}, "needs the private endpoint /v2/private"),
        ({"channel": "book", **DERIV}, "symbol is required"),
    ],
)
async def test_bad_subscriptions_are_refused_plainly(
    exchange: SimExchange, params: dict[str, Any], error: str
) -> None:
    conn = await _open(exchange)
    (refusal,) = await conn.request("subscribe", **params)
    assert refusal["success"] is False
    assert refusal["req_id"] == 1
    assert error in refusal["error"]


async def test_unknown_symbol_and_double_subscribe_per_symbol(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    out = await conn.request("subscribe", channel="ticker", symbol=["PF_NOPE", "PF_XBTUSD"], **DERIV)
    bad, good = answers(out)
    assert (bad["success"], bad["symbol"], bad["error"]) == (
        False, "PF_NOPE", "Currency pair not supported"
    )
    assert good["success"] is True
    (again,) = answers(await conn.request("subscribe", channel="ticker", symbol=["PF_XBTUSD"], **DERIV))
    assert (again["success"], again["error"]) == (False, "Already subscribed")


async def test_unsubscribe_must_repeat_the_depth(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    await conn.request("subscribe", channel="book", symbol=["PF_XBTUSD"], depth=25, **DERIV)
    (wrong,) = await conn.request("unsubscribe", channel="book", symbol=["PF_XBTUSD"], **DERIV)
    assert (wrong["success"], wrong["error"]) == (False, "Subscription Not Found")
    (right,) = await conn.request(
        "unsubscribe", channel="book", symbol=["PF_XBTUSD"], depth=25, **DERIV
    )
    assert right["success"] is True
    assert pushes(await conn.tick(2), "book") == []


async def test_malformed_and_unknown_requests(exchange: SimExchange) -> None:
    conn = await _open(exchange)
    await conn.session.on_message("not json")
    (malformed,) = conn.take()
    assert malformed["success"] is False
    assert "not a JSON object" in malformed["error"]
    (unknown,) = await conn.request("launch")
    assert (unknown["method"], unknown["error"]) == ("launch", "Method not found")
