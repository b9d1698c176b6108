"""Every example message of the UWS reference (§1.8) parses into the frames.

The messages are read from ``kraken-unified-ws.md`` itself (its JSON blocks,
``/*v2*/`` comments stripped), so a change to the reference is seen here. Pushes
become the same frames as v3's (through :mod:`kfresearch.uws.bodies`) and the
stream's events (:class:`kfresearch.stream.uws.KrakenUWS`); answers become the
wire's answers; requests are what the client's own encoders send.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kfresearch import frames
from kfresearch.stream.events import Answer, BookLevels, Many, Records
from kfresearch.stream.uws import KrakenUWS
from kfresearch.uws import bodies
from kfresearch.uws.orders import add_order_params, amend_order_params, cancel_params
from kfresearch.uws.wire import Answer as WireAnswer
from kfresearch.uws.wire import Push, decode

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / \
    "kraken-unified-ws.md"


def _examples() -> list[dict[str, Any]]:
    text = REFERENCE.read_text()
    section = text.split("### 1.8", 1)[1].split("### 1.9", 1)[0]
    messages: list[dict[str, Any]] = []
    for block in re.findall(r"```json\n(.*?)```", section, flags=re.S):
        block = re.sub(r"/\*.*?\*/", "", block)
        for chunk in re.split(r"\n\s*\n", block.strip()):
            messages.append(json.loads(chunk))
    return messages


EXAMPLES = _examples()
PUSHES = {m["channel"]: m for m in EXAMPLES if "channel" in m}
ANSWERS = {m["method"]: m for m in EXAMPLES if "result" in m}
REQUESTS = {m["req_id"]: m for m in EXAMPLES if "params" in m}
SUBSCRIBES = {m["params"]["channel"]: m for m in REQUESTS.values() if m["method"] == "subscribe"}


def test_the_reference_has_the_examples_this_file_checks() -> None:
    assert len(EXAMPLES) == 24
    assert set(PUSHES) == {"ticker", "book", "trade", "ohlc", "executions", "positions"}
    assert set(ANSWERS) == {"subscribe", "add_order", "cancel_all"}


def test_ticker_push_is_the_tickers_frame() -> None:
    push = decode(json.dumps(PUSHES["ticker"]))
    assert isinstance(push, Push)
    frame = frames.tickers(bodies.tickers_body(push.data))
    row = frame.loc["PF_XBTUSD"]
    assert (row["bid"], row["bid_size"], row["ask"], row["ask_size"]) == (97000.5, 1.2, 97001.0,
                                                                          0.8)
    assert (row["last"], row["vol24h"], row["low24h"], row["high24h"]) == (97000.5, 1234.5,
                                                                            95000.0, 98000.0)
    assert row["change24h"] == pytest.approx(0.0052)  # the wire's percent as a fraction
    event = KrakenUWS().parse(json.dumps(PUSHES["ticker"]))
    assert isinstance(event, Records)
    assert (event.feed, event.symbol, event.snapshot) == ("ticker", "PF_XBTUSD", True)
    assert event.records[0]["bidSize"] == 1.2


def test_book_update_keeps_the_wire_text_and_is_a_book() -> None:
    text = json.dumps(PUSHES["book"])
    event = KrakenUWS().parse(text)
    assert isinstance(event, BookLevels)
    assert event.bids == [("97000.5", "0.0")]  # the digits as sent: the checksum needs them
    assert event.asks == [("97001.0", "1.5")]
    assert event.checksum == 2439117997  # constructed in the reference: parsed, not verified
    assert event.time_ms == pd.Timestamp("2026-11-20T10:00:01.123Z").value // 10**6
    book = frames.orderbook(bodies.orderbook_body(PUSHES["book"]["data"][0]), "PF_XBTUSD")
    # qty 0 deletes the level: only the ask is left
    assert book[["side", "price", "size"]].values.tolist() == [["ask", 97001.0, 1.5]]


def test_trade_push_is_the_trades_frame() -> None:
    frame = frames.trades(bodies.trades_body(PUSHES["trade"]["data"]), "PF_XBTUSD")
    assert len(frame) == 1
    assert frame.index[0] == pd.Timestamp("2026-11-20T10:00:02Z")
    assert (frame["price"].iloc[0], frame["size"].iloc[0], frame["side"].iloc[0]) == (
        97001.0, 0.05, "buy")
    event = KrakenUWS().parse(json.dumps(PUSHES["trade"]))
    assert isinstance(event, Records)
    assert event.feed == "trade"
    assert event.records[0]["trade_id"] == 123456789


def test_ohlc_push_is_the_candles_frame() -> None:
    frame = frames.candles(bodies.candles_body(PUSHES["ohlc"]["data"]))
    assert frame.index[0] == pd.Timestamp("2026-11-20T10:00:00Z")
    assert frame.iloc[0].tolist() == [97000.0, 97010.0, 96990.0, 97005.0, 3.1]


def test_execution_fill_is_the_fills_frame_and_the_stream_fill() -> None:
    data = PUSHES["executions"]["data"]
    frame = frames.fills(bodies.fills_body(data))
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["symbol"], row["side"], row["size"], row["price"]) == ("PF_XBTUSD", "buy", 0.05,
                                                                       97000.0)
    assert row["order_id"] == "cff769bb-dc52-56e1-98c8-22301dc888ae"
    assert row["fill_type"] == "maker"
    event = KrakenUWS().parse(json.dumps(PUSHES["executions"]))
    assert isinstance(event, Many)
    orders, fills = event.events
    assert isinstance(orders, Records)
    assert isinstance(fills, Records)
    assert [r["fill_id"] for r in fills.records] == ["…"]
    # the order is still open (partially filled): it stays in the open orders
    assert [r["order_id"] for r in orders.records] == ["cff769bb-dc52-56e1-98c8-22301dc888ae"]
    assert orders.removed == ()


def test_a_closed_position_leaves_the_positions_frame_empty() -> None:
    frame = frames.positions(bodies.positions_body(PUSHES["positions"]["data"]))
    assert frame.empty
    assert "size" in frame.columns
    event = KrakenUWS().parse(json.dumps(PUSHES["positions"]))
    assert isinstance(event, Records)
    assert event.records[0]["size"] == 0.0


@pytest.mark.parametrize("method", ["subscribe", "add_order", "cancel_all"])
def test_answers_parse(method: str) -> None:
    answer = decode(json.dumps(ANSWERS[method]))
    assert isinstance(answer, WireAnswer)
    assert answer.success is True
    assert answer.method == method
    assert answer.result == ANSWERS[method]["result"]


def test_the_streams_requests_are_the_references() -> None:
    uws = KrakenUWS()
    for feed, channel in (("ticker", "ticker"), ("book", "book"), ("trade", "trade")):
        sent = json.loads(uws.subscribe(feed, ("PF_XBTUSD",), None))
        example = SUBSCRIBES[channel]["params"]
        assert sent["method"] == "subscribe"
        for key in ("channel", "asset_class", "symbol"):
            assert sent["params"][key] == example[key], (feed, key)
    private = json.loads(uws.subscribe("fills", (), ("key", "", "tok")))
    example = SUBSCRIBES["executions"]["params"]
    for key in ("channel", "asset_class", "snap_orders", "snap_trades"):
        assert private["params"][key] == example[key], key
    assert private["params"]["token"] == "tok"
    margin = json.loads(uws.subscribe("balances", (), ("key", "", "tok")))
    assert "snapshot" not in margin["params"]  # margin refuses the parameter (§1.6)
    assert margin["params"]["channel"] == "margin"
    # the first subscribe answer is tagged for the feed that asked
    ack = dict(ANSWERS["subscribe"], req_id=json.loads(uws.subscribe("ticker", (), None))["req_id"])
    assert KrakenUWS().parse(json.dumps(ack)) == Answer("subscribe", "ticker", ("PF_XBTUSD",))


def _without_token(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in ("token", "asset_class")}


def test_the_order_requests_are_the_references() -> None:
    post_only = add_order_params({"orderType": "post", "side": "buy", "size": 0.1,
                                  "symbol": "PF_XBTUSD", "limitPrice": 97000.0,
                                  "cliOrdId": "my-0001"})
    example = _without_token(REQUESTS[10]["params"])
    # the reference spells the defaults out (gtc, reduce_only false); the client leaves them
    assert post_only == {k: v for k, v in example.items()
                         if (k, v) not in (("time_in_force", "gtc"), ("reduce_only", False))}
    stop = add_order_params({"orderType": "stp", "side": "sell", "size": 0.1,
                             "symbol": "PF_XBTUSD", "stopPrice": 95000.0,
                             "triggerSignal": "index", "reduceOnly": True})
    assert stop == _without_token(REQUESTS[11]["params"])
    amend = amend_order_params({"orderId": "cff769bb-dc52-56e1-98c8-22301dc888ae", "size": 0.2,
                                "limitPrice": 96950.0, "qtyMode": "ABSOLUTE"})
    assert amend == _without_token(REQUESTS[12]["params"])
    cancel = cancel_params({"order_id": "cff769bb-dc52-56e1-98c8-22301dc888ae"})
    assert cancel == _without_token(REQUESTS[13]["params"])


def test_a_trade_update_is_one_stream_message_per_trade() -> None:
    """As WebSocket v1 sends them: callbacks and ``s.messages("trade")`` see each trade."""
    two = dict(PUSHES["trade"], data=PUSHES["trade"]["data"] * 2)
    event = KrakenUWS().parse(json.dumps(two))
    assert isinstance(event, Many)
    assert [len(e.records) for e in event.events if isinstance(e, Records)] == [1, 1]
    snapshot = KrakenUWS().parse(json.dumps(dict(two, type="snapshot")))
    assert isinstance(snapshot, Records)  # a snapshot stays one message
    assert len(snapshot.records) == 2
