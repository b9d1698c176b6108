"""Rough edges a new user hit (issue 11): each bad input gets a clear KFError before anything
is sent, index candles work, an order costs only the requests its checks need."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch import ValidationError
from kfresearch.orders import Send
from kfresearch.sim.exchange import SimExchange


def test_bool_flags_take_bools_only(kf: kfresearch.Client, recorder: Any) -> None:
    before = len(recorder.seen)
    for flag in ("reduce_only", "post_only"):
        for value in ("no", "false", 0, None):
            with pytest.raises(ValidationError, match=f"{flag} must be True or False") as info:
                kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000, **{flag: value})
            assert info.value.field == flag
        with pytest.raises(ValidationError, match=f"{flag} must be True or False"):
            kf.place_order("PF_XBTUSD", "buy", 0.001, "mkt", validate=False, **{flag: "no"})
    assert len(recorder.seen) == before  # nothing sent, not even a read


@pytest.mark.parametrize(
    ("since", "words"),
    [
        (-5, "negative epoch time; for \"5 days ago\" write since='5d'"),
        ("-5", "negative epoch time"),
        ("1900-01-01", "before Kraken Futures existed"),
        (0, "before Kraken Futures existed"),
    ],
)
def test_implausible_times_are_refused(
    kf: kfresearch.Client, recorder: Any, since: object, words: str
) -> None:
    before = len(recorder.seen)
    for call in (
        lambda: kf.candles("PF_XBTUSD", "1h", since=since),
        lambda: kf.trades("PF_XBTUSD", since=since),
        lambda: kf.fills(since=since),
        lambda: kf.account_log(since=since),
    ):
        with pytest.raises(ValidationError, match=words) as info:
            call()
        assert info.value.field == "since"
    with pytest.raises(ValidationError, match="until"):
        kf.candles("PF_XBTUSD", "1h", since="1d", until="1900-01-02")
    assert len(recorder.seen) == before


def test_a_bad_process_before_is_a_validation_error(
    kf: kfresearch.Client, recorder: Any
) -> None:
    before = len(recorder.seen)
    for validate in (True, False):
        with pytest.raises(ValidationError, match="process_before") as info:
            kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000,
                           process_before="tomorrow-ish", validate=validate)
        assert isinstance(info.value, kfresearch.KFError)
        assert info.value.field == "process_before"
    assert len(recorder.seen) == before


def test_term_structure_of_an_unknown_base_says_so(kf: kfresearch.Client) -> None:
    with pytest.raises(ValidationError, match="unknown base 'FOO'") as info:
        kf.term_structure("FOO")
    assert info.value.field == "base"
    with pytest.raises(ValidationError, match="did you mean ETH"):
        kf.term_structure("ETHH")
    btc = kf.term_structure("btc")
    assert {"PF_XBTUSD", "PI_XBTUSD"} <= set(btc["symbol"])
    assert all("_XBTUSD" in s for s in btc["symbol"])
    assert btc["symbol"].str.startswith("FI_").sum() >= 1


def test_funding_of_a_dated_future_says_dated_futures_have_none(
    kf: kfresearch.Client, recorder: Any
) -> None:
    with pytest.raises(ValidationError, match="dated futures pay no funding") as info:
        kf.funding_rates(next(s for s in kf.instruments().index if s.startswith("FI_")))
    assert "PF_XBTUSD" in str(info.value)  # points at the perpetual
    with pytest.raises(ValidationError, match="is an index"):
        kf.funding_rates("in_xbtusd")
    assert "historicalfundingrates" not in " ".join(p for _, p in recorder.seen)
    assert len(kf.funding_rates("PF_XBTUSD", since="1d")) == 25  # until "now", included


def test_index_candles_are_the_spot_series(kf: kfresearch.Client) -> None:
    assert "in_xbtusd" in kf.tickers().index
    index = kf.candles("in_xbtusd", "1h", since="1d")
    spot = kf.candles("PF_XBTUSD", "1h", since="1d", tick_type="spot")
    assert len(index) == 25
    pd.testing.assert_frame_equal(index[["open", "high", "low", "close"]],
                                  spot[["open", "high", "low", "close"]])
    assert index.attrs["symbol"] == "in_xbtusd"
    assert index.attrs["source_symbol"] == "PF_XBTUSD"
    assert index.attrs["tick_type"] == "spot"
    # the index is near the index tickers' last value
    last = kf.tickers().loc["in_xbtusd", "last"]
    assert abs(index["close"].iloc[-1] / last - 1) < 0.01
    with pytest.raises(ValidationError, match="reference rate"):
        kf.candles("rr_xbtusd")
    with pytest.raises(ValidationError, match="no mark price"):
        kf.candles("in_xbtusd", tick_type="mark")


def test_a_market_order_is_one_request(
    kf: kfresearch.Client, recorder: Any, ex: SimExchange
) -> None:
    kf.instruments()  # the client now holds them (fresh for a minute)
    start, served = len(recorder.seen), ex.requests_seen
    kf.place_order("PF_XBTUSD", "buy", 0.001, "mkt")
    assert [p for _, p in recorder.seen[start:]] == ["/derivatives/api/v3/sendorder"]
    assert ex.requests_seen == served + 1  # the exchange's own count agrees
    start = len(recorder.seen)
    kf.place_order("PF_XBTUSD", "sell", 0.001, "mkt", reduce_only=True)
    assert recorder.paths()[start:] == ["sendorder"]
    # a limit order also reads its ticker (public: no rate units) for the price collar
    start = len(recorder.seen)
    kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=60000)
    assert recorder.paths()[start:] == ["PF_XBTUSD", "sendorder"]
    assert "openpositions" not in recorder.paths()


def test_limit_orders_placed_together_read_their_mark_once(
    kf: kfresearch.Client, recorder: Any, ex: SimExchange
) -> None:
    kf.instruments()
    start = len(recorder.seen)
    kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=60000)
    kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=60001)
    kf.edit_order(client_order_id=None, order_id=kf.open_orders().index[0], limit_price=60002)
    assert recorder.paths()[start:] == [
        "PF_XBTUSD", "sendorder", "sendorder", "openorders", "status", "editorder"
    ]
    # the collar is still checked, against the mark read moments ago, before any request
    mark = kf.tickers().loc["PF_XBTUSD", "mark_price"]
    start = len(recorder.seen)
    with pytest.raises(ValidationError, match="outsidePriceCollar"):
        kf.place_order("PF_XBTUSD", "sell", 0.001, limit_price=round(mark * 0.5))
    kf.place_order("PF_ETHUSD", "buy", 0.01, limit_price=1000)  # marked by tickers()
    assert recorder.paths()[start:] == ["sendorder"]
    start = len(recorder.seen)  # a batch prices its limit orders by the same marks
    kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=60000),
              Send("PF_ETHUSD", "buy", 0.01, limit_price=1000)])
    assert recorder.paths()[start:] == ["openpositions", "batchorder"]
    ex.advance("3s")  # older than MARKS_FRESH_FOR: read again
    start = len(recorder.seen)
    kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=60000)
    assert recorder.paths()[start:] == ["PF_XBTUSD", "sendorder"]


def test_a_fresh_client_reads_the_instruments_once(
    kf: kfresearch.Client, recorder: Any
) -> None:
    kf.place_order("PF_XBTUSD", "buy", 0.001, "mkt")
    kf.place_order("PF_XBTUSD", "sell", 0.001, "mkt")
    kf.candles("PF_XBTUSD", "1h", since="2h")
    assert recorder.paths().count("instruments") == 1


def test_sim_advance_takes_durations(ex: SimExchange) -> None:
    start = ex.clock.now_ms()
    assert ex.advance("60s") == start + 60_000
    assert ex.advance(timedelta(minutes=2)) == start + 180_000
    assert ex.advance("250ms") == start + 180_250
    assert ex.advance(1_000) == start + 181_250  # milliseconds, when unambiguous
    assert ex.advance(0) == start + 181_250
    for bad in (60, 0.5, -1_000, "soon", "-5s"):
        with pytest.raises(ValidationError, match=r"advance|duration"):
            ex.advance(bad)  # type: ignore[arg-type]
    assert ex.clock.now_ms() == start + 181_250
