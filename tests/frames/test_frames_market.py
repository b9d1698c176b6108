"""Market frames on the documented example bodies (numbers and all-strings variants)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from frame_asserts import UTC, assert_dtypes, assert_same_schema

from kfresearch import frames

# --------------------------------------------------------------------------- instruments

INSTRUMENT_DTYPES = {
    "type": "str",
    "tradeable": "bool",
    "pair": "str",
    "base": "str",
    "quote": "str",
    "underlying": "str",
    "tick_size": "float64",
    "contract_size": "float64",
    "contract_value_trade_precision": "Int64",
    "impact_mid_size": "float64",
    "max_position_size": "float64",
    "opening_date": UTC,
    "last_trading_time": UTC,
    "is_perpetual": "bool",
    "funding_rate_coefficient": "float64",
    "max_relative_funding_rate": "float64",
    "isin": "str",
    "fee_schedule_uid": "str",
    "post_only": "bool",
    "category": "str",
    "tags": "object",
    "tradfi": "bool",
    "mtf": "bool",
    "margin_levels": "object",
    "retail_margin_levels": "object",
}


def test_instruments(example: Callable[..., Any]) -> None:
    df = frames.instruments(example("instruments.kraken-doc.json"))
    assert df.index.name == "symbol"
    assert list(df.index) == ["PI_XBTUSD", "FI_XBTUSD_220930", "PF_XBTUSD"]
    assert_dtypes(df, INSTRUMENT_DTYPES)
    assert df["is_perpetual"].tolist() == [True, False, True]
    assert df["last_trading_time"].isna().tolist() == [True, False, True]
    assert df.loc["FI_XBTUSD_220930", "last_trading_time"] == pd.Timestamp("2022-09-30T15:00:00Z")
    assert df.loc["PF_XBTUSD", "tick_size"] == 1.0
    assert df.loc["PI_XBTUSD", "tick_size"] == 0.5
    assert df["contract_value_trade_precision"].tolist() == [0, 0, 4]
    assert df.loc["PF_XBTUSD", "max_relative_funding_rate"] == 0.001
    assert df["funding_rate_coefficient"].isna().tolist() == [False, True, False]
    assert df.loc["PF_XBTUSD", "category"] == "Layer 1"
    assert df["category"].isna().tolist() == [True, True, False]  # "" → NaN
    levels = df.loc["PF_XBTUSD", "margin_levels"]
    assert isinstance(levels, list)
    assert len(levels) == 6
    assert df["mtf"].tolist() == [True, False, False]
    assert df.attrs["server_time"] == pd.Timestamp("2022-06-28T09:29:04.243Z")


def test_instruments_empty_has_full_schema(raw_example: Callable[..., Any]) -> None:
    full = frames.instruments(raw_example("instruments.kraken-doc.json"))
    empty = frames.instruments(
        {"instruments": [], "result": "success", "serverTime": "2022-06-28T09:29:04.243Z"}
    )
    assert_same_schema(empty, full)


def test_instruments_index_entries_are_not_perpetual() -> None:
    body = {
        "result": "success",
        "instruments": [{"symbol": "in_xbtusd", "type": "spot index", "tradeable": False}],
    }
    assert not frames.instruments(body).loc["in_xbtusd", "is_perpetual"]


# --------------------------------------------------------------------------- tickers

TICKER_DTYPES = {
    "tag": "str",
    "pair": "str",
    "mark_price": "float64",
    "index_price": "float64",
    "bid": "float64",
    "bid_size": "float64",
    "ask": "float64",
    "ask_size": "float64",
    "mid": "float64",
    "spread": "float64",
    "spread_bps": "float64",
    "premium": "float64",
    "last": "float64",
    "last_time": UTC,
    "last_size": "float64",
    "vol24h": "float64",
    "volume_quote": "float64",
    "open_interest": "float64",
    "open24h": "float64",
    "high24h": "float64",
    "low24h": "float64",
    "change24h": "float64",
    "currency": "str",
    "funding_rate": "float64",
    "funding_rate_prediction": "float64",
    "relative_funding_rate": "float64",
    "relative_funding_rate_prediction": "float64",
    "funding_rate_annualised": "float64",
    "suspended": "bool",
    "post_only": "bool",
}

DOGE = {
    "symbol": "PF_DOGEUSD",
    "last": "0.096326",
    "lastTime": "2026-02-08T17:32:13.922599Z",
    "tag": "perpetual",
    "pair": "DOGE:USD",
    "markPrice": "0.09624183255",
    "bid": "0.096234",
    "bidSize": "100",
    "ask": "0.096253",
    "askSize": "1714",
    "vol24h": "38320755",
    "volumeQuote": "3743943.987912",
    "openInterest": "23062948.000000000000000",
    "open24h": "0.097602",
    "high24h": "0.099418",
    "low24h": "0.095038",
    "lastSize": "665",
    "fundingRate": "-0.000000742689179664",
    "fundingRatePrediction": "-0.000000253089377012",
    "suspended": False,
    "indexPrice": "0.096257",
    "postOnly": False,
    "change24h": "-1.31",
}


def test_tickers(example: Callable[..., Any]) -> None:
    df = frames.tickers(example("tickers.kraken-doc.json"))
    assert df.index.name == "symbol"
    assert list(df.index) == ["PI_XBTUSD", "FI_XBTUSD_211231", "in_xbtusd", "rr_xbtusd"]
    assert_dtypes(df, TICKER_DTYPES)
    pi = df.loc["PI_XBTUSD"]
    assert pi["mark_price"] == 30209.9
    assert pi["mid"] == pytest.approx((8634 + 49289) / 2)
    assert pi["spread"] == pytest.approx(49289 - 8634)
    assert pi["spread_bps"] == pytest.approx((49289 - 8634) / ((8634 + 49289) / 2) * 1e4)
    assert pi["premium"] == pytest.approx(30209.9 / 21087.8 - 1)
    # inverse: relative = absolute × index, the index the exchange fixes the rate with
    assert pi["funding_rate"] == pytest.approx(1.18588737106e-07, rel=1e-12)
    assert pi["relative_funding_rate"] == pytest.approx(1.18588737106e-07 * 21087.8)
    assert pi["funding_rate_annualised"] == pytest.approx(1.18588737106e-07 * 21087.8 * 8760)
    assert pi["currency"] == "XBT"
    assert pi["last_time"] == pd.Timestamp("2022-06-17T10:46:35.705Z")
    # dated contract: no ask, no funding
    fi = df.loc["FI_XBTUSD_211231"]
    assert np.isnan(fi["ask"])
    assert np.isnan(fi["mid"])
    assert np.isnan(fi["relative_funding_rate"])
    assert fi["currency"] == "XBT"
    # index tickers: NaN for what they lack, flags False
    idx = df.loc["in_xbtusd"]
    assert idx["last"] == 21088.0
    assert np.isnan(idx["mark_price"])
    assert pd.isna(idx["currency"])
    assert pd.isna(idx["tag"])
    assert not idx["suspended"]
    assert df.attrs["server_time"] == pd.Timestamp("2022-06-17T11:00:31.335Z")


def test_ticker_single_symbol_body(example: Callable[..., Any]) -> None:
    df = frames.tickers(example("tickers_symbol.kraken-doc.json"))
    assert list(df.index) == ["pi_xbtusd"]
    assert_dtypes(df, TICKER_DTYPES)
    # lower-case symbols are still recognised as inverse
    assert df.loc["pi_xbtusd", "relative_funding_rate"] == pytest.approx(
        1.18588737106e-07 * 21087.8
    )


def test_tickers_doge_linear_funding_matches_reference() -> None:
    body = {"result": "success", "serverTime": "2026-02-08T17:33:58.322Z", "tickers": [DOGE]}
    row = frames.tickers(body).loc["PF_DOGEUSD"]
    # reference §7.5: linear relative = absolute / price. ccxt divides by the mark
    # (-7.7169e-06); the exchange fixes the rate with the index, so do we
    assert row["relative_funding_rate"] == pytest.approx(
        -0.000000742689179664 / 0.096257, rel=1e-12
    )
    assert row["relative_funding_rate"] == pytest.approx(-7.7169e-06, rel=2e-4)
    assert row["relative_funding_rate_prediction"] == pytest.approx(
        -0.000000253089377012 / 0.096257, rel=1e-12
    )
    assert row["funding_rate_annualised"] == pytest.approx(
        -0.000000742689179664 / 0.096257 * 8760, rel=1e-12
    )
    assert row["currency"] == "USD"
    assert row["mid"] == pytest.approx(0.0962435)
    assert row["spread"] == pytest.approx(0.000019)
    assert row["spread_bps"] == pytest.approx(1.97415929, rel=1e-6)
    assert row["premium"] == pytest.approx(0.09624183255 / 0.096257 - 1)
    assert row["open_interest"] == 23062948.0
    assert row["change24h"] == pytest.approx(-0.0131)  # sent as percent: -1.31
    assert row["last_time"] == pd.Timestamp("2026-02-08T17:32:13.922599Z")


def test_tickers_empty_has_full_schema(raw_example: Callable[..., Any]) -> None:
    full = frames.tickers(raw_example("tickers.kraken-doc.json"))
    empty = frames.tickers(
        {"tickers": [], "result": "success", "serverTime": "2022-06-17T11:00:31.335Z"}
    )
    assert_same_schema(empty, full)
    assert empty.attrs["server_time"] == pd.Timestamp("2022-06-17T11:00:31.335Z")


def test_tickers_keep_unknown_fields() -> None:
    body = {
        "result": "success",
        "tickers": [
            {**DOGE, "newRatio": "1.5", "isHalted": True, "venueInfo": {"venueName": "x"}},
            {**DOGE, "symbol": "PF_XBTUSD"},
        ],
    }
    df = frames.tickers(body)
    assert df["new_ratio"].dtype == np.float64
    assert df.loc["PF_DOGEUSD", "new_ratio"] == 1.5
    assert df["new_ratio"].isna().tolist() == [False, True]
    assert df["is_halted"].tolist() == [True, False]
    assert df.loc["PF_DOGEUSD", "venue_info_venue_name"] == "x"
    assert list(df.columns[-3:]) == ["new_ratio", "is_halted", "venue_info_venue_name"]


def test_error_body_is_rejected(raw_example: Callable[..., Any]) -> None:
    failure = raw_example("openpositions.kraken-doc.json", "OpenPositionsFailureExample")
    with pytest.raises(ValueError, match="apiLimitExceeded"):
        frames.tickers(failure)
    with pytest.raises(ValueError, match="'tickers' or 'ticker'"):
        frames.tickers({"result": "success", "instruments": []})
    with pytest.raises(ValueError, match="decoded JSON object"):
        frames.tickers([DOGE])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- order book

BOOK_DTYPES = {
    "side": "str",
    "level": "int64",
    "price": "float64",
    "size": "float64",
    "cum_size": "float64",
    "cum_notional": "float64",
    "currency": "str",
}


def _book(example: Callable[..., Any]) -> dict[str, Any]:
    return {
        "orderBook": example("orderbook.kraken-doc.json"),
        "result": "success",
        "serverTime": "2022-06-28T09:29:04.243Z",
    }


def test_orderbook(example: Callable[..., Any]) -> None:
    df = frames.orderbook(_book(example), symbol="PF_XBTUSD")
    assert_dtypes(df, BOOK_DTYPES)
    assert df["side"].tolist() == ["bid"] * 3 + ["ask"] * 2
    assert df["level"].tolist() == [0, 1, 2, 0, 1]
    assert df["price"].tolist() == [40178.0, 40174.0, 40170.0, 40186.0, 40190.0]
    assert df["cum_size"].tolist() == pytest.approx([5.0, 9.2, 16.4, 5.0183, 5.4366])
    assert df["cum_notional"].tolist() == pytest.approx(
        [
            40178 * 5,
            40178 * 5 + 40174 * 4.2,
            40178 * 5 + 40174 * 4.2 + 40170 * 7.2,
            40186 * 5.0183,
            40186 * 5.0183 + 40190 * 0.4183,
        ]
    )
    assert (df["currency"] == "USD").all()
    assert df.attrs["symbol"] == "PF_XBTUSD"
    assert df.attrs["mid"] == 40182.0
    assert df.attrs["spread"] == 8.0
    assert df.attrs["spread_bps"] == pytest.approx(8 / 40182 * 1e4)
    assert df.attrs["server_time"] == pd.Timestamp("2022-06-28T09:29:04.243Z")


def test_orderbook_depth_unsorted_and_bare(example: Callable[..., Any]) -> None:
    book = example("orderbook.kraken-doc.json")
    shuffled = {"bids": list(reversed(book["bids"])), "asks": list(reversed(book["asks"]))}
    df = frames.orderbook(shuffled, depth=1)  # bare {bids, asks} is accepted too
    assert df[["side", "price"]].values.tolist() == [["bid", 40178.0], ["ask", 40186.0]]


def test_orderbook_empty_has_full_schema(example: Callable[..., Any]) -> None:
    full = frames.orderbook(_book(example))
    empty = frames.orderbook({"orderBook": {"bids": [], "asks": []}, "result": "success"})
    assert_same_schema(empty, full)
    assert np.isnan(empty.attrs["mid"])


def test_orderbook_websocket_levels() -> None:
    book = {"bids": [{"price": 34892.5, "qty": 6385}], "asks": [{"price": 34911.5, "qty": 20598}]}
    df = frames.orderbook(book)
    assert df["size"].tolist() == [6385.0, 20598.0]


# --------------------------------------------------------------------------- trades

TRADE_DTYPES = {
    "uid": "str",
    "trade_id": "Int64",
    "symbol": "str",
    "side": "str",
    "price": "float64",
    "size": "float64",
    "type": "str",
    "mark_price": "float64",
    "usd_value": "float64",
    "limit_filled": "bool",
    "maker_order_id": "str",
    "maker_order_type": "str",
    "maker_limit_price": "float64",
    "maker_order_quantity": "float64",
    "maker_reduce_only": "bool",
    "maker_order_time": UTC,
    "taker_order_id": "str",
    "taker_order_type": "str",
    "taker_limit_price": "float64",
    "taker_order_quantity": "float64",
    "taker_reduce_only": "bool",
    "taker_order_time": UTC,
    "taker_reduced_quantity": "float64",
    "event_uid": "str",
}


def market_execution(uid: str, ts: int, price: str = "66155.0", taker: str = "Buy") -> Any:
    """An element in the shape of the recorded ``/market/PI_XBTUSD/executions`` body (§4.7)."""
    maker = "Sell" if taker == "Buy" else "Buy"
    return {
        "uid": f"el-{uid}",
        "timestamp": str(ts),
        "event": {
            "Execution": {
                "execution": {
                    "uid": uid,
                    "makerOrder": {
                        "uid": f"m-{uid}",
                        "tradeable": "PI_XBTUSD",
                        "direction": maker,
                        "quantity": "200.0",
                        "timestamp": str(ts - 61261),
                        "limitPrice": price,
                        "orderType": "Limit",
                        "reduceOnly": False,
                        "lastUpdateTimestamp": str(ts - 1262),
                    },
                    "takerOrder": {
                        "uid": f"t-{uid}",
                        "tradeable": "PI_XBTUSD",
                        "direction": taker,
                        "quantity": "200",
                        "timestamp": str(ts),
                        "limitPrice": "66816.500",
                        "orderType": "Market",
                        "reduceOnly": False,
                        "lastUpdateTimestamp": str(ts),
                    },
                    "timestamp": str(ts),
                    "quantity": "200.0",
                    "price": price,
                    "markPrice": "66156.99270213483",
                    "limitFilled": True,
                    "usdValue": "200.00",
                },
                "takerReducedQuantity": "",
            }
        },
    }


def test_trades_from_recent_history(example: Callable[..., Any]) -> None:
    df = frames.trades(example("history_public_trades.json"), symbol="PF_XRPUSD")
    assert df.index.name == "time"
    assert str(df.index.dtype) == UTC
    assert_dtypes(df, TRADE_DTYPES)
    row = df.iloc[0]
    assert df.index[0] == pd.Timestamp("2022-03-18T04:55:37.692Z")
    assert row["uid"] == "6c5da0b0-f1a8-483f-921f-466eb0388265"
    assert row["trade_id"] == 100
    assert row["price"] == 0.7921
    assert row["size"] == 1068.0
    assert row["side"] == "sell"
    assert row["type"] == "fill"
    assert row["symbol"] == "PF_XRPUSD"
    assert np.isnan(row["mark_price"])


def test_trades_from_event_store_pages(maybe_strings: Callable[[Any], Any]) -> None:
    t0 = 1772026472238
    page1 = maybe_strings(
        {
            "elements": [
                market_execution("b", t0 + 10, "66160.5", "Sell"),
                market_execution("a", t0),
            ],
            "len": "2",
            "continuationToken": "tok1",
        }
    )
    page2 = maybe_strings(
        {"elements": [market_execution("a", t0), market_execution("c", t0 + 20)], "len": "2"}
    )
    df = frames.trades([page1, page2])
    assert_dtypes(df, TRADE_DTYPES)
    assert df["uid"].tolist() == ["a", "b", "c"]  # sorted by time, "a" de-duplicated
    assert df.index.is_monotonic_increasing
    assert df.index[0] == pd.Timestamp(t0, unit="ms", tz="UTC")
    first = df.iloc[0]
    assert first["symbol"] == "PI_XBTUSD"
    assert first["side"] == "buy"  # taker side
    assert first["price"] == 66155.0
    assert first["size"] == 200.0
    assert first["mark_price"] == pytest.approx(66156.99270213483)
    assert first["usd_value"] == 200.0
    assert first["limit_filled"]
    assert first["maker_order_id"] == "m-a"
    assert first["taker_order_type"] == "Market"
    assert first["taker_limit_price"] == 66816.5
    assert first["maker_order_time"] == pd.Timestamp(t0 - 61261, unit="ms", tz="UTC")
    assert np.isnan(first["taker_reduced_quantity"])  # "" → NaN
    assert pd.isna(first["trade_id"])
    assert df.loc[df["uid"] == "b", "side"].item() == "sell"
    assert first["event_uid"] == "el-a"


def test_trades_empty_has_full_schema(raw_example: Callable[..., Any]) -> None:
    full = frames.trades(raw_example("history_public_trades.json"))
    assert_same_schema(frames.trades({"elements": [], "len": "0"}), full)
    assert_same_schema(frames.trades({"history": [], "result": "success"}), full)
    assert_same_schema(frames.trades([]), full)


def test_trades_mixed_sources(raw_example: Callable[..., Any]) -> None:
    recent = raw_example("history_public_trades.json")
    store = {"elements": [market_execution("z", 1772026472238)]}
    df = frames.trades([store, recent])
    assert df["uid"].tolist() == ["6c5da0b0-f1a8-483f-921f-466eb0388265", "z"]


# --------------------------------------------------------------------------- candles

CANDLE_DTYPES = {c: "float64" for c in ("open", "high", "low", "close", "volume")}


def test_candles_pages(all_examples: Callable[[str], list[Any]]) -> None:
    df = frames.candles(all_examples("charts_candles.json"))
    assert df.index.name == "time"
    assert str(df.index.dtype) == UTC
    assert list(df.columns) == list(CANDLE_DTYPES)
    assert_dtypes(df, CANDLE_DTYPES)
    assert df.index.is_monotonic_increasing
    assert df.index.tolist() == [
        pd.Timestamp(1620816960000, unit="ms", tz="UTC"),
        pd.Timestamp(1645198500000, unit="ms", tz="UTC"),
        pd.Timestamp(1680624000000, unit="ms", tz="UTC"),
    ]
    assert df.iloc[2].tolist() == [28050.0, 28150.0, 27983.0, 28126.0, 1089794.0]
    assert df.iloc[0]["volume"] == 10824.0
    assert df.iloc[1]["volume"] == 0.0
    assert df.attrs["more_candles"] is True


def test_candles_dedupe_last_page_wins() -> None:
    p1 = {
        "candles": [
            {"time": 60000, "open": "1", "high": "2", "low": "0.5", "close": "1.5", "volume": 3}
        ],
        "more_candles": True,
    }
    p2 = {
        "candles": [
            {"time": 0, "open": "1", "high": "1", "low": "1", "close": "1", "volume": 0},
            {"time": 60000, "open": "1", "high": "2", "low": "0.5", "close": "1.7", "volume": "4"},
        ],
        "more_candles": False,
    }
    df = frames.candles([p1, p2])
    assert df["close"].tolist() == [1.0, 1.7]
    assert df.attrs["more_candles"] is False


def test_candles_empty_has_full_schema() -> None:
    full = frames.candles(
        {"candles": [{"time": 0, "open": "1", "high": "1", "low": "1", "close": "1", "volume": 0}]}
    )
    assert_same_schema(frames.candles({"candles": [], "more_candles": False}), full)


# --------------------------------------------------------------------------- funding


def test_funding_rates(example: Callable[..., Any]) -> None:
    df = frames.funding_rates(example("historical_funding_rates.kraken-doc.json"), "PI_XBTUSD")
    assert df.index.name == "time"
    assert str(df.index.dtype) == UTC
    assert_dtypes(
        df,
        {
            "period_end": UTC,
            "period_hours": "float64",
            "funding_rate": "float64",
            "relative_funding_rate": "float64",
            "funding_rate_annualised": "float64",
            "currency": "str",
        },
    )
    assert df.index[1] == pd.Timestamp("2022-06-28T04:00:00Z")
    assert df["funding_rate"].iloc[0] == pytest.approx(-8.15861558e-10, rel=1e-12)
    assert df["relative_funding_rate"].iloc[0] == pytest.approx(-1.6898883333333e-05, rel=1e-12)
    # the spec's example is 2022 history, funded every 4 hours: 2,190 periods a year
    assert df["period_hours"].tolist() == [4.0, 4.0, 4.0]
    assert df["period_end"].iloc[0] == pd.Timestamp("2022-06-28T04:00:00Z")
    assert df["funding_rate_annualised"].iloc[0] == pytest.approx(
        -1.6898883333333e-05 * 365 * 24 / 4, rel=1e-12
    )
    assert (df["currency"] == "XBT").all()


def test_funding_period_read_from_the_data() -> None:
    hours = ["00", "04", "08", "09", "10", "12", "13"]  # 4-hourly, then hourly with 11:00 missing
    body = {
        "rates": [
            {"timestamp": f"2023-01-01T{h}:00:00Z", "fundingRate": 1.0, "relativeFundingRate": 1e-5}
            for h in hours
        ]
    }
    df = frames.funding_rates(body, "PF_XBTUSD")
    assert df["period_hours"].tolist() == [4.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert df["funding_rate_annualised"].tolist() == pytest.approx(
        [1e-5 * 2190] * 2 + [1e-5 * 8760] * 5
    )
    assert df["period_end"].iloc[-1] == pd.Timestamp("2023-01-01T14:00:00Z")
    lone = frames.funding_rates({"rates": body["rates"][:1]})
    assert lone["period_hours"].tolist() == [1.0]
    assert lone["currency"].isna().all()  # no symbol given


def test_funding_rates_empty(raw_example: Callable[..., Any]) -> None:
    full = frames.funding_rates(raw_example("historical_funding_rates.kraken-doc.json"))
    assert_same_schema(frames.funding_rates({"rates": [], "result": "success"}), full)


# --------------------------------------------------------------------------- fee schedules


def test_fee_schedules(example: Callable[..., Any]) -> None:
    df = frames.fee_schedules(example("feeschedules.kraken-doc.json"))
    assert len(df) == 16
    assert_dtypes(
        df,
        {
            "uid": "str",
            "name": "str",
            "tier": "int64",
            "usd_volume": "float64",
            "maker_fee": "float64",
            "taker_fee": "float64",
        },
    )
    first = df.iloc[0]
    assert first["name"] == "PGTMainFees"
    # sent as percent (0.02 = 2 bp), kept as fractions
    assert first["maker_fee"] == pytest.approx(0.0002)
    assert first["taker_fee"] == pytest.approx(0.0005)
    assert df.iloc[7]["taker_fee"] == pytest.approx(0.0001)
    assert df["tier"].tolist()[:3] == [0, 1, 2]
    assert df.iloc[7]["usd_volume"] == 100000000.0


# --------------------------------------------------------------------------- term structure


def test_term_structure_by_hand(maybe_strings: Callable[[Any], Any]) -> None:
    tick = maybe_strings(
        {
            "result": "success",
            "serverTime": "2026-06-01T00:00:00Z",
            "tickers": [
                {
                    "symbol": "FF_XBTUSD_260925",
                    "tag": "quarter",
                    "pair": "XBT:USD",
                    "markPrice": 101000.0,
                    "indexPrice": 100000.0,
                },
                {
                    "symbol": "PF_XBTUSD",
                    "tag": "perpetual",
                    "pair": "XBT:USD",
                    "markPrice": 100050.0,
                    "indexPrice": 100000.0,
                    "fundingRate": 0.5,
                },
                {"symbol": "in_xbtusd", "last": 100000.0},
            ],
        }
    )
    inst = maybe_strings(
        {
            "result": "success",
            "instruments": [
                {"symbol": "FF_XBTUSD_260925", "lastTradingTime": "2026-09-25T15:00:00Z"}
            ],
        }
    )
    df = frames.term_structure(tick, inst)
    assert df["symbol"].tolist() == ["PF_XBTUSD", "FF_XBTUSD_260925"]  # perpetual first
    assert_dtypes(
        df,
        {
            "symbol": "str",
            "tag": "str",
            "expiry": UTC,
            "days_to_expiry": "float64",
            "mark_price": "float64",
            "index_price": "float64",
            "basis": "float64",
            "relative_basis": "float64",
            "basis_annualised": "float64",
        },
    )
    perp, dated = df.iloc[0], df.iloc[1]
    assert pd.isna(perp["expiry"])
    assert np.isnan(perp["basis_annualised"])
    assert perp["basis"] == 50.0
    assert perp["funding_rate_annualised"] == pytest.approx(0.5 / 100000.0 * 8760)
    days = (pd.Timestamp("2026-09-25T15:00Z") - pd.Timestamp("2026-06-01T00:00Z")).total_seconds()
    days /= 86400
    assert dated["days_to_expiry"] == pytest.approx(days)
    assert dated["basis"] == 1000.0
    assert dated["relative_basis"] == pytest.approx(0.01)  # a fraction: 1 %
    assert dated["basis_annualised"] == pytest.approx(0.01 * 365 / days)  # a fraction per year
    # without instruments: the symbol's date at 16:00 London (15:00Z in summer)
    approx_expiry = frames.term_structure(tick, now="2026-06-01T00:00:00Z").iloc[1]["expiry"]
    assert approx_expiry == pd.Timestamp("2026-09-25T15:00:00Z")


def test_term_structure_example(raw_example: Callable[..., Any]) -> None:
    df = frames.term_structure(
        raw_example("tickers.kraken-doc.json"), raw_example("instruments.kraken-doc.json")
    )
    assert df["symbol"].tolist() == ["PI_XBTUSD", "FI_XBTUSD_211231"]
    assert df.loc[1, "expiry"] == pd.Timestamp("2021-12-31T16:00:00Z")  # winter: 16:00 London
    assert df["days_to_expiry"].iloc[1] < 0  # expired relative to serverTime
    assert df["basis_annualised"].isna().all()
