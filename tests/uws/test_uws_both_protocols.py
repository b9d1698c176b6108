"""The same assertions on both protocols, against the simulator served on loopback.

Every test here runs twice (``protocol`` is parametrised in conftest.py): once on the v3
REST API and WebSocket v1, once on the Unified WebSocket. Market data and account frames
must equal the in-process v3 client's on the same exchange at the same clock; orders are
validated before anything is sent, never doubled when an answer is lost, and gated on
live; streamed books equal the exchange's.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from two_protocols import Loopback, Wire

import kfresearch
from kfresearch.errors import LiveTradingDisabledError, SunsetWarning, ValidationError
from kfresearch.orders import Cancel, Send

SYMBOLS = ("PF_XBTUSD", "PF_ETHUSD")
# a served client reads relative times on the wall clock: the tests say when, absolutely
NOW = "2026-11-01T00:00:00Z"
DAY_BEFORE = "2026-10-31T00:00:00Z"
TEN_MINUTES_BEFORE = "2026-10-31T23:50:00Z"


#: what the Unified WebSocket does not carry, by frame: those columns are empty (NaN) on
#: ``protocol="uws"`` and every other column is equal. Fee schedules were deprecated by
#: Kraken before UWS existed (reference §2); single-collateral wallets' trigger estimates
#: and USD value have no UWS field; index tickers (in_/rr_) are not UWS symbols (§1.5).
NOT_ON_UWS: dict[str, set[str]] = {
    "accounts": {"fee_schedule_uid", "fee_volume_usd", "fee_tier", "maker_fee", "taker_fee",
                 "usd", "trigger_estimate_im", "trigger_estimate_mm", "trigger_estimate_lt",
                 "trigger_estimate_tt"},
}
#: columns the v3 simulator leaves empty where Kraken's v3 fills them, and the UWS margin
#: channel carries (the flex currencies' haircut): not compared
V3_SIM_GAPS: dict[str, set[str]] = {"accounts": {"haircut"}}


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame, *, protocol: str = "v3",
                      frame: str = "") -> None:
    """``got`` equals ``want``; on UWS, the columns it does not carry are NaN instead."""
    assert got.attrs.get("env") == want.attrs.get("env") == "sim"
    if protocol == "uws" and frame == "tickers":
        want = want[~want.index.str.match(r"^(in|rr)_")]
    missing = sorted(NOT_ON_UWS.get(frame, set())) if protocol == "uws" else []
    for column in missing:
        assert got[column].isna().all(), column
    missing += sorted(V3_SIM_GAPS.get(frame, set()))
    if "balances" in got.columns:  # per-currency dicts: the numbers, whatever their spelling
        for frame_ in (got, want):
            frame_["balances"] = frame_["balances"].map(
                lambda b: {k: float(v) for k, v in b.items()} if isinstance(b, dict) else b)
    pd.testing.assert_frame_equal(got.drop(columns=missing), want.drop(columns=missing))


@pytest.mark.parametrize("method", ["instruments", "tickers"])
def test_market_frames_are_v3s(kf: kfresearch.Client, reference: kfresearch.Client,
                               method: str, protocol: str) -> None:
    assert_same_frame(getattr(kf, method)(), getattr(reference, method)(), protocol=protocol,
                      frame=method)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_order_books_are_v3s(kf: kfresearch.Client, reference: kfresearch.Client,
                             symbol: str) -> None:
    assert_same_frame(kf.orderbook(symbol), reference.orderbook(symbol))
    assert_same_frame(kf.orderbook(symbol, depth=25), reference.orderbook(symbol, depth=25))


def test_history_comes_from_the_same_apis_and_uws_says_where(
    kf: kfresearch.Client, reference: kfresearch.Client, protocol: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        candles = kf.candles("PF_XBTUSD", "1h", since=DAY_BEFORE, until=NOW)
        trades = kf.trades("PF_XBTUSD", since=TEN_MINUTES_BEFORE, until=NOW)
    assert len(candles) == 24
    assert len(trades) > 10
    assert_same_frame(candles, reference.candles("PF_XBTUSD", "1h", since=DAY_BEFORE, until=NOW))
    assert_same_frame(trades, reference.trades("PF_XBTUSD", since=TEN_MINUTES_BEFORE, until=NOW))
    said = [str(w.message) for w in caught if issubclass(w.category, SunsetWarning)]
    # on UWS: once per API, naming the store that keeps the data if Kraken stops serving it
    assert len(said) == (2 if protocol == "uws" else 0)
    assert all("kfresearch record" in text and "not stated" in text for text in said)


def test_account_frames_are_v3s(kf: kfresearch.Client, reference: kfresearch.Client,
                                protocol: str) -> None:
    kf.place_order("PF_XBTUSD", "buy", 0.01, "mkt", client_order_id="mkt-1")
    kf.place_order("PF_ETHUSD", "sell", 0.5, "mkt", client_order_id="mkt-2")
    kf.place_order("PF_XBTUSD", "buy", 0.01, limit_price=50000, client_order_id="lmt-1")
    for method in ("open_orders", "positions", "accounts", "fills"):
        assert_same_frame(getattr(kf, method)(), getattr(reference, method)(),
                          protocol=protocol, frame=method)
    assert kf.positions().loc["PF_ETHUSD", "side"] == "short"
    assert kf.open_orders()["cli_ord_id"].tolist() == ["lmt-1"]


INVALID: dict[str, Callable[[kfresearch.Client], Any]] = {
    "size_step": lambda kf: kf.place_order("PF_XBTUSD", "buy", 0.00001, limit_price=70000),
    "tick": lambda kf: kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000.5),
    "no_price": lambda kf: kf.place_order("PF_XBTUSD", "buy", 0.001, "lmt"),
    "side": lambda kf: kf.place_order("PF_XBTUSD", "long", 0.001, limit_price=70000),
    "symbol": lambda kf: kf.place_order("PF_NOPEUSD", "buy", 0.001, limit_price=70000),
    "batch": lambda kf: kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
                                  Send("PF_XBTUSD", "buy", -1, limit_price=70000)]),
}


def test_invalid_orders_are_refused_before_anything_is_sent(
    kf: kfresearch.Client, acct: Any
) -> None:
    messages = {}
    for name, action in INVALID.items():
        with pytest.raises(ValidationError) as info:
            action(kf)
        messages[name] = str(info.value)
    assert acct.orders == {}
    assert "0.0001" in messages["size_step"]
    assert "tick" in messages["tick"]


def test_intents_whose_answers_are_lost_make_exactly_one_order_each(
    kf: kfresearch.Client, wire: Wire, loopback: Loopback, acct: Any
) -> None:
    wire.lose_answer(loopback.exchange, "place", probability=0.25)
    results = [kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=60000 + i)
               for i in range(40)]
    assert len(acct.orders) == 40
    assert len({o.cli_ord_id for o in acct.orders.values()}) == 40
    assert {r.order_id for r in results} == set(acct.orders)
    assert sorted(o.limit_price for o in acct.orders.values()) == [60000.0 + i for i in range(40)]
    assert all(r.status == "placed" for r in results)
    # about a quarter were processed without an answer, and found by their client order id
    assert 3 <= sum(r.resolved for r in results) <= 20


def test_a_market_order_whose_answer_was_lost_is_found(
    kf: kfresearch.Client, wire: Wire, loopback: Loopback, acct: Any
) -> None:
    wire.lose_answer(loopback.exchange, "place", count=1)
    result = kf.place_order("PF_XBTUSD", "buy", 0.001, "mkt")
    assert result.resolved
    assert result.status == "filled"
    assert result.filled == 0.001
    assert len(acct.orders) == 1
    assert len(acct.fills) == 1


def test_a_cancel_whose_answer_was_lost_is_found(
    kf: kfresearch.Client, wire: Wire, loopback: Loopback, acct: Any
) -> None:
    order = kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    wire.lose_answer(loopback.exchange, "cancel", count=1)
    result = kf.cancel_order(order.order_id)
    assert result.status == "cancelled"
    assert result.resolved
    assert acct.open_orders == {}


LIVE_ACTIONS: dict[str, Callable[[kfresearch.Client], Any]] = {
    "place_order": lambda kf: kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000),
    "edit_order": lambda kf: kf.edit_order("o-1", limit_price=70000),
    "cancel_order": lambda kf: kf.cancel_order("o-1"),
    "cancel_all": lambda kf: kf.cancel_all(),
    "cancel_all_after": lambda kf: kf.cancel_all_after(60),
    "batch": lambda kf: kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
                                  Cancel("o-1")]),
}


def test_live_sends_nothing_without_the_opt_in_and_trades_with_it(
    make_live: Callable[..., kfresearch.Client], acct: Any
) -> None:
    gated = make_live(allow_trading=False)
    for name, action in LIVE_ACTIONS.items():
        with pytest.raises(LiveTradingDisabledError, match="nothing was sent"):
            action(gated)
        assert acct.orders == {}, name
    assert gated.tickers().shape[0] > 0  # reading is not gated
    allowed = make_live(allow_trading=True)
    placed = allowed.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    assert set(acct.orders) == {placed.order_id}


def _books_match(stream: Any, loopback: Loopback, now: int) -> bool:
    for symbol in SYMBOLS:
        book = stream.book(symbol)
        bids, asks = loopback.exchange.market.book(symbol, now, 25)
        got_bids, got_asks = book.levels()
        if got_bids.tolist() != [list(lv) for lv in bids]:
            return False
        if got_asks.tolist() != [list(lv) for lv in asks]:
            return False
    return True


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_streamed_books_are_the_exchanges(kf: kfresearch.Client, loopback: Loopback) -> None:
    stream = kf.stream()
    try:
        stream.subscribe("book", list(SYMBOLS))
        now = loopback.exchange.clock.now_ms()
        wait_for(lambda: _books_match(stream, loopback, now), "the snapshot")
        for _ in range(6):
            now = loopback.exchange.advance(1_000)
            wait_for(lambda at=now: _books_match(stream, loopback, at), f"the book at {now}")
        for symbol in SYMBOLS:
            pd.testing.assert_frame_equal(stream.book(symbol).frame(),
                                          kf.orderbook(symbol, depth=25))
        stats = stream.stats()
        assert stats["resyncs"] == 0
        assert stats.get("checksum_mismatches", 0) == 0
    finally:
        stream.close()
