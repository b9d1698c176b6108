"""WebSocket v1 on the wire: the reference's example messages parse into events, and each
table feed's rows make the same frame as the client's method of the same name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from kfresearch import frames
from kfresearch.credentials import Secret
from kfresearch.stream.events import (
    Answer,
    BookDelta,
    BookSnapshot,
    ChallengeAnswer,
    Heartbeat,
    Info,
    Records,
    Refused,
    Unknown,
)
from kfresearch.stream.tables import FRAMES
from kfresearch.stream.v1 import KrakenV1

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples"
v1 = KrakenV1()


def examples(name: str) -> dict[str, Any]:
    path = EXAMPLES / f"ws_{name}.json"
    if not path.exists():  # pragma: no cover
        pytest.skip(f"example messages not found at {EXAMPLES}")
    return dict(json.loads(path.read_text(encoding="utf-8"))["examples"])


def parse(message: dict[str, Any]) -> Any:
    return v1.parse(orjson.dumps(message))


@pytest.mark.parametrize(
    "name",
    ["balances", "book", "challenge", "fills", "heartbeat", "open_orders", "open_positions",
     "ticker", "trade"],
)
def test_every_example_message_is_understood(name: str) -> None:
    for key, message in examples(name).items():
        if "event" in message and message["event"] in {"subscribe", "challenge"} \
                and "message" not in message:
            continue  # requests the client sends, not messages it receives
        if key == "signing_vector_from_docs":
            continue
        event = parse(message)
        assert not isinstance(event, Unknown), (name, key)


def test_book_snapshot_and_delta() -> None:
    book = examples("book")
    snapshot = parse(book["book_snapshot"])
    assert snapshot == BookSnapshot(
        "PI_XBTUSD", 326072249, 1612269825817,
        [(34892.5, 6385.0), (34892.0, 10924.0)], [(34911.5, 20598.0), (34912.0, 2300.0)],
    )
    assert parse(book["book_delta"]) == BookDelta(
        "PI_XBTUSD", 326094134, 1612269953629, False, 34981.0, 0.0
    )


def test_requests_are_the_reference_envelopes() -> None:
    book = examples("book")
    assert orjson.loads(v1.subscribe("book", ("PF_XBTUSD",), None)) == book["subscribe"]
    sample = examples("challenge")["private_subscribe_request"]
    auth = (sample["api_key"], sample["original_challenge"], sample["signed_challenge"])
    assert orjson.loads(v1.subscribe("balances", (), auth)) == sample
    assert orjson.loads(v1.unsubscribe("notifications", (), auth))["feed"] == "notifications_auth"
    request = examples("challenge")["request"]
    assert orjson.loads(v1.challenge_request(request["api_key"]) or "") == request
    assert orjson.loads(v1.subscribe("heartbeat", (), None)) == examples("heartbeat")["subscribe"]


def test_challenge_signature_is_the_reference_vector() -> None:
    vector = examples("challenge")["signing_vector_from_docs"]
    signed = v1.sign(Secret(vector["api_secret"]), vector["challenge"])
    assert signed == vector["signed_challenge"]


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ({"event": "info", "version": 1}, Info(1)),
        ({"event": "challenge", "message": "c100b894"}, ChallengeAnswer("c100b894")),
        ({"event": "subscribed", "feed": "book", "product_ids": ["PF_XBTUSD"]},
         Answer("subscribe", "book", ("PF_XBTUSD",))),
        ({"event": "unsubscribed", "feed": "notifications_auth"},
         Answer("unsubscribe", "notifications")),
        ({"event": "subscribed_failed", "feed": "book", "product_ids": ["PF_NOPE"]},
         Refused("subscribed_failed", "subscribe", "book", ("PF_NOPE",))),
        ({"event": "error", "message": "Invalid product id"}, Refused("Invalid product id")),
        ({"feed": "heartbeat", "time": 1534262350627}, Heartbeat(1534262350627)),
        ({"feed": "no_such_feed"}, Unknown({"feed": "no_such_feed"})),
    ],
)
def test_answers(message: dict[str, Any], event: Any) -> None:
    assert parse(message) == event


def test_garbage_is_unknown_never_an_exception() -> None:
    assert isinstance(v1.parse(b"not json"), Unknown)
    assert isinstance(v1.parse(b"[1, 2]"), Unknown)
    assert isinstance(v1.parse(b'{"feed": "book", "product_id": "X"}'), Unknown)
    assert isinstance(v1.parse(b'{"feed": "open_orders", "is_cancel": false}'), Unknown)


def _same_columns(live: pd.DataFrame, rest: pd.DataFrame) -> None:
    """The live frame starts with the REST frame's columns, in order and with its dtypes."""
    assert list(live.columns[: len(rest.columns)]) == list(rest.columns)
    for name in rest.columns:
        assert live[name].dtype == rest[name].dtype, name
    assert live.index.name == rest.index.name
    assert live.index.dtype == rest.index.dtype or not len(rest)


def test_trades_as_kf_trades() -> None:
    trade = examples("trade")
    snapshot = parse(trade["trade_snapshot"])
    assert isinstance(snapshot, Records)
    assert snapshot.snapshot
    assert snapshot.symbol == "PI_XBTUSD"
    update = parse(trade["trade"])
    frame = FRAMES["trade"](snapshot.records + update.records)
    _same_columns(frame, frames.trades({"history": []}))
    assert frame[["symbol", "side", "price", "size", "trade_id"]].to_dict("records") == [
        {"symbol": "PI_XBTUSD", "side": "sell", "price": 34969.5, "size": 15000.0,
         "trade_id": 653355},
        {"symbol": "PI_XBTUSD", "side": "sell", "price": 34893.0, "size": 440.0,
         "trade_id": 655508},
    ]
    assert str(frame.index[0]) == "2021-02-02 11:45:17.519000+00:00"


def test_ticker_as_kf_tickers() -> None:
    ticker = parse(examples("ticker")["ticker"])
    frame = FRAMES["ticker"](ticker.records)
    _same_columns(frame, frames.tickers({"tickers": []}))
    row = frame.loc["PI_XBTUSD"]
    assert row["mark_price"] == pytest.approx(28064.92082724592)
    assert row["index_price"] == 28062.14
    assert (row["bid_size"], row["ask_size"], row["vol24h"]) == (2844.0, 1902.0, 19628180.0)
    assert row["funding_rate"] == pytest.approx(7.792297e-12)
    # derived like kf.tickers(): a fraction, where v1's own premium is in percent
    assert row["premium"] == pytest.approx(28064.92082724592 / 28062.14 - 1)
    assert row["spread"] == 10.0
    lite = FRAMES["ticker_lite"](parse(examples("ticker")["ticker_lite"]).records)
    # v1 sends percent, like /tickers: the frame holds the fraction
    assert lite.loc["FI_ETHUSD_210625", "change24h"] == pytest.approx(0.13448175559936647)


def test_open_orders_as_kf_open_orders() -> None:
    orders = examples("open_orders")
    snapshot = parse(orders["open_orders_snapshot"])
    frame = FRAMES["open_orders"](snapshot.records)
    _same_columns(frame, frames.open_orders({"openOrders": []}))
    assert frame["order_type"].tolist() == ["stop", "trailing_stop", "lmt"]
    assert (frame["side"] == "sell").all()  # direction 1
    assert np.isnan(frame.loc["59302619-41d2-4f0b-941f-7e7914760ad3", "limit_price"])
    assert np.isnan(frame.loc["7a2f793e-26f3-4987-a938-56d296a11560", "stop_price"])
    assert frame["unfilled_size"].tolist() == [1000.0, 12.0, 1000.0]
    placed = parse(orders["open_orders_new"])
    assert placed.reason == "new_placed_order_by_user"
    assert placed.removed == ()
    assert placed.records[0]["unfilledSize"] == 304.0
    cancel = parse(orders["open_orders_cancel"])
    assert cancel.records == []
    assert cancel.removed == ("ea8a7144-37db-449b-bb4a-b53c814a0f43",)
    verbose = parse(orders["open_orders_verbose_post_rejected"])
    assert verbose.feed == "open_orders"
    assert verbose.removed == (
        "fa9806c9-cba9-4661-9f31-8c5fd045a95d",
    )
    # a full fill that still carries the order is a removal too
    full = parse({"feed": "open_orders", "order": orders["open_orders_new"]["order"],
                  "is_cancel": True, "reason": "full_fill"})
    assert full.removed == ("59302619-41d2-4f0b-941f-7e7914760ad3",)
    assert full.reason == "full_fill"


def test_fills_as_kf_fills() -> None:
    fills = parse(examples("fills")["fills_snapshot"])
    frame = FRAMES["fills"](fills.records)
    _same_columns(frame, frames.fills({"fills": []}))
    assert frame["side"].tolist() == ["buy", "buy"]
    assert frame["fee_paid"].tolist() == [-9.142857e-05, 0.00685588921]
    assert frame["fill_type"].tolist() == ["maker", "taker"]


def test_positions_as_kf_positions() -> None:
    positions = parse(examples("open_positions")["open_positions"])
    frame = FRAMES["open_positions"](positions.records)
    _same_columns(frame, frames.positions({"openPositions": []}))
    row = frame.loc["PF_LTCUSD"]
    assert (row["side"], row["size"], row["entry_price"]) == ("long", 0.5, 70.53)
    assert row["mark_price"] == pytest.approx(68.80433882446)
    assert row["unrealized_pnl"] == pytest.approx((68.80433882446 - 70.53) * 0.5)
    assert row["liquidation_threshold"] == 0
    short = FRAMES["open_positions"]([{**positions.records[0], "size": 2.0, "side": "short"}])
    assert short.loc["PF_LTCUSD", "size"] == -2.0


def test_balances_as_kf_accounts() -> None:
    balances = parse(examples("balances")["balances_snapshot"])
    frame = FRAMES["balances"](balances.records)
    _same_columns(frame, frames.accounts({"accounts": {}}))
    cash = frame[frame["account"] == "cash"].set_index("currency")["quantity"]
    assert cash["USD"] == 5000.0
    assert cash["XBT"] == pytest.approx(0.1285407184)
    assert set(frame["account"]) == {"cash", "fi_etheur", "fi_xbtusd", "flex"}
    flex = frame[frame["account"] == "flex"].iloc[0]  # the wallet's summary row comes first
    assert flex["type"] == "multiCollateralMarginAccount"
    assert np.isnan(flex["quantity"])


def test_account_log_and_notifications() -> None:
    # the shapes of Kraken's documentation pages (the reference has no sample)
    entry = {"id": 1697, "date": "2019-07-11T13:00:27.632Z", "asset": "pi_bchusd",
             "info": "futures trade", "booking_uid": "55a02b5b", "margin_account": "f-bch:usd",
             "old_balance": 1.0, "new_balance": 2.0, "fee": 0.0, "execution": "fc49fea9"}
    update = parse({"feed": "account_log", "new_entry": entry})
    snapshot = parse({"feed": "account_log_snapshot", "logs": [{**entry, "id": 1690,
                                                                "booking_uid": "86fdc252"}]})
    assert snapshot.snapshot
    assert not update.snapshot
    frame = FRAMES["account_log"](snapshot.records + update.records)
    _same_columns(frame, frames.account_log({"logs": []}))
    assert frame["id"].tolist() == [1690, 1697]
    assert bool(frame["is_position_leg"].iloc[1])
    notices = parse({"feed": "notifications_auth", "notifications": [
        {"id": 5, "type": "maintenance", "priority": "high", "note": "down",
         "effective_time": 1520288300000, "expected_downtime_minutes": 30}]})
    table = FRAMES["notifications"](notices.records)
    assert table.loc[5, "expected_downtime_minutes"] == 30
    assert str(table.loc[5, "effective_time"]) == "2018-03-05 22:18:20+00:00"
