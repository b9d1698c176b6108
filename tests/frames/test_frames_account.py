"""Account frames on the documented example bodies (numbers and all-strings variants)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from frame_asserts import UTC, assert_dtypes, assert_same_schema

from kfresearch import frames

# --------------------------------------------------------------------------- accounts

ACCOUNT_DTYPES = {
    "account": "str",
    "type": "str",
    "currency": "str",
    "quantity": "float64",
    "value": "float64",
    "collateral_value": "float64",
    "available": "float64",
    "balance_value": "float64",
    "portfolio_value": "float64",
    "margin_equity": "float64",
    "available_margin": "float64",
    "initial_margin": "float64",
    "initial_margin_with_orders": "float64",
    "maintenance_margin": "float64",
    "liquidation_threshold": "float64",
    "termination_threshold": "float64",
    "pnl": "float64",
    "unrealized_funding": "float64",
    "total_unrealized": "float64",
    "total_unrealized_as_margin": "float64",
    "usd": "float64",
    "trigger_estimate_im": "float64",
    "balances": "object",
}


def test_accounts(example: Callable[..., Any]) -> None:
    df = frames.accounts(example("accounts.kraken-doc.json"))
    assert_dtypes(df, ACCOUNT_DTYPES)
    assert df[["account", "currency"]].fillna("-").values.tolist() == [
        ["cash", "XBT"],
        ["cash", "XRP"],
        ["fi_xbtusd", "XBT"],
        ["flex", "USD"],  # the summary row's amounts are USD
        ["flex", "XBT"],
        ["flex", "USD"],
        ["flex", "EUR"],
    ]
    cash = df.iloc[0]
    assert cash["type"] == "cashAccount"
    assert cash["quantity"] == 141.31756797
    assert np.isnan(cash["available_margin"])
    margin = df.iloc[2]
    assert margin["type"] == "marginAccount"
    assert margin["quantity"] == 141.31756797
    assert margin["portfolio_value"] == 153.73891563
    assert margin["available_margin"] == 100.73891563
    assert margin["pnl"] == 12.42134766
    assert margin["initial_margin"] == 52.8
    assert margin["maintenance_margin"] == 23.76
    assert margin["liquidation_threshold"] == 39.6
    assert margin["termination_threshold"] == 15.84
    assert margin["trigger_estimate_im"] == 3110.0
    assert margin["balances"]["FI_XBTUSD_180615"] in ("-15000", -15000)
    summary = df.iloc[3]
    assert summary["type"] == "multiCollateralMarginAccount"
    assert summary["balance_value"] == 34995.52
    assert summary["portfolio_value"] == 34995.52
    assert summary["collateral_value"] == 34122.66
    assert summary["margin_equity"] == 34122.66
    assert summary["available_margin"] == 34122.66
    assert summary["initial_margin"] == 0.0
    assert np.isnan(summary["quantity"])
    xbt = df.iloc[4]
    assert xbt["quantity"] == 0.1185308247
    assert xbt["value"] == pytest.approx(4998.721054420551)
    assert xbt["collateral_value"] == pytest.approx(4886.49976674881)
    assert xbt["available"] == 0.1185308247
    assert df.attrs["server_time"] == pd.Timestamp("2016-02-25T09:45:53.818Z")


def test_accounts_empty_has_full_schema(raw_example: Callable[..., Any]) -> None:
    full = frames.accounts(raw_example("accounts.kraken-doc.json"))
    empty = frames.accounts({"accounts": {}, "result": "success"})
    assert_same_schema(empty, full)


# --------------------------------------------------------------------------- positions

POSITION_DTYPES = {
    "side": "str",
    "size": "float64",
    "abs_size": "float64",
    "entry_price": "float64",
    "fill_time": UTC,
    "unrealized_funding": "float64",
    "pnl_currency": "str",
    "max_fixed_leverage": "float64",
    "is_inverse": "bool",
    "mark_price": "float64",
    "notional": "float64",
    "unrealized_pnl": "float64",
}


def test_positions(example: Callable[..., Any]) -> None:
    df = frames.positions(example("openpositions.kraken-doc.json"))
    assert df.index.name == "symbol"
    assert list(df.index) == ["PI_XBTUSD", "FI_XBTUSD_201225", "PF_DEFIUSD"]
    assert_dtypes(df, POSITION_DTYPES)
    assert df["size"].tolist() == [-10000.0, 20000.0, 1.0]
    assert df["abs_size"].tolist() == [10000.0, 20000.0, 1.0]
    assert df["side"].tolist() == ["short", "long", "long"]
    assert df["is_inverse"].tolist() == [True, True, False]
    assert df.loc["PI_XBTUSD", "entry_price"] == pytest.approx(9392.749993345933)
    assert df.loc["PI_XBTUSD", "fill_time"] == pd.Timestamp("2020-07-22T14:39:12.376Z")
    assert df.loc["PI_XBTUSD", "unrealized_funding"] == pytest.approx(1.045432180096817e-05)
    assert df["unrealized_funding"].isna().tolist() == [False, True, False]
    assert df.loc["PF_DEFIUSD", "pnl_currency"] == "BTC"
    assert df.loc["PF_DEFIUSD", "max_fixed_leverage"] == 5.0
    assert df["mark_price"].isna().all()  # no tickers given


def test_positions_with_tickers(example: Callable[..., Any], maybe_strings: Any) -> None:
    tick = maybe_strings(
        {
            "result": "success",
            "tickers": [
                {"symbol": "PI_XBTUSD", "markPrice": 30209.9},
                {"symbol": "PF_DEFIUSD", "markPrice": 600.0},
            ],
        }
    )
    df = frames.positions(example("openpositions.kraken-doc.json"), tick)
    entry = 9392.749993345933
    # inverse short: (1/entry − 1/mark) × size (signed, USD contracts) → coin
    assert df.loc["PI_XBTUSD", "unrealized_pnl"] == pytest.approx(
        (1 / entry - 1 / 30209.9) * -10000
    )
    assert df.loc["PI_XBTUSD", "notional"] == -10000.0
    # linear long: (mark − entry) × size → USD
    assert df.loc["PF_DEFIUSD", "unrealized_pnl"] == pytest.approx((600.0 - 570.0) * 1)
    assert df.loc["PF_DEFIUSD", "notional"] == 600.0
    assert df.loc["PF_DEFIUSD", "mark_price"] == 600.0
    # a position without a ticker stays NaN
    assert df["unrealized_pnl"].isna().tolist() == [False, True, False]


def test_positions_reference_pnl_examples() -> None:
    """Reference §7.3: inverse 10,000 USD from 2,500 to 2,800 → 0.42857 ETH; linear 5 BTC."""
    pos = {
        "result": "success",
        "openPositions": [
            {"symbol": "PI_ETHUSD", "side": "long", "size": "10000", "price": "2500"},
            {"symbol": "PF_XBTUSD", "side": "long", "size": "5", "price": "35000"},
        ],
    }
    tick = {
        "result": "success",
        "tickers": [
            {"symbol": "PI_ETHUSD", "markPrice": "2800"},
            {"symbol": "PF_XBTUSD", "markPrice": "40000"},
        ],
    }
    df = frames.positions(pos, tick)
    assert df.loc["PI_ETHUSD", "unrealized_pnl"] == pytest.approx(0.428571, rel=1e-5)
    assert df.loc["PF_XBTUSD", "unrealized_pnl"] == pytest.approx(25000.0)


def test_positions_empty_has_full_schema(raw_example: Callable[..., Any]) -> None:
    full = frames.positions(raw_example("openpositions.kraken-doc.json"))
    empty = frames.positions({"result": "success", "openPositions": []})
    assert_same_schema(empty, full)
    with_tickers = frames.positions(
        {"result": "success", "openPositions": []}, raw_example("tickers.kraken-doc.json")
    )
    assert_same_schema(with_tickers, full)


# --------------------------------------------------------------------------- open orders

ORDER_DTYPES = {
    "cli_ord_id": "str",
    "symbol": "str",
    "side": "str",
    "order_type": "str",
    "status": "str",
    "limit_price": "float64",
    "stop_price": "float64",
    "filled_size": "float64",
    "unfilled_size": "float64",
    "reduce_only": "bool",
    "trigger_signal": "str",
    "received_time": UTC,
    "last_update_time": UTC,
}


def test_open_orders(example: Callable[..., Any]) -> None:
    df = frames.open_orders(example("openorders.kraken-doc.json"))
    assert df.index.name == "order_id"
    assert len(df) == 7
    assert_dtypes(df, ORDER_DTYPES)
    first = df.loc["59302619-41d2-4f0b-941f-7e7914760ad3"]
    assert first["side"] == "sell"
    assert first["limit_price"] == 10640.0
    assert first["unfilled_size"] == 304.0
    assert first["filled_size"] == 0.0
    assert first["reduce_only"]
    assert first["order_type"] == "lmt"
    assert first["received_time"] == pd.Timestamp("2019-09-05T17:01:17.410Z")
    assert df["reduce_only"].tolist().count(True) == 2


def test_open_orders_recorded_2025_body() -> None:
    body = {
        "result": "success",
        "serverTime": "2025-10-21T08:44:02.204Z",
        "openOrders": [
            {
                "order_id": "a02a5141-5156-4f62-a992-0f879b5fc989",
                "symbol": "PF_LTCUSD",
                "side": "buy",
                "orderType": "lmt",
                "limitPrice": "50",
                "unfilledSize": "0.1",
                "receivedTime": "2025-10-21T08:42:03.057503Z",
                "status": "untouched",
                "filledSize": "0",
                "lastUpdateTime": "2025-10-21T08:42:03.057503Z",
                "reduceOnly": False,
                "cliOrdId": "my-1",
            }
        ],
    }
    df = frames.open_orders(body)
    row = df.iloc[0]
    assert row["received_time"] == pd.Timestamp("2025-10-21T08:42:03.057503Z")
    assert row["unfilled_size"] == 0.1
    assert row["cli_ord_id"] == "my-1"


def test_open_orders_empty_has_full_schema(raw_example: Callable[..., Any]) -> None:
    full = frames.open_orders(raw_example("openorders.kraken-doc.json"))
    assert_same_schema(frames.open_orders({"result": "success", "openOrders": []}), full)


# --------------------------------------------------------------------------- fills


def test_fills(example: Callable[..., Any]) -> None:
    df = frames.fills(example("fills.kraken-doc.json"))
    assert df.index.name == "time"
    assert str(df.index.dtype) == UTC
    assert df.index.is_monotonic_increasing  # the body is newest first
    assert_dtypes(
        df,
        {
            "fill_id": "str",
            "symbol": "str",
            "side": "str",
            "order_id": "str",
            "cli_ord_id": "str",
            "size": "float64",
            "price": "float64",
            "fill_type": "str",
        },
    )
    assert df["fill_type"].tolist() == ["taker", "maker"]
    assert df["size"].tolist() == [5000.0, 5490.0]
    assert df.index[1] == pd.Timestamp("2020-07-22T13:37:27.077Z")


def test_fills_pages_dedupe(raw_example: Callable[..., Any]) -> None:
    body = raw_example("fills.kraken-doc.json")
    df = frames.fills([body, body])
    assert len(df) == 2


def test_fills_empty_has_full_schema(raw_example: Callable[..., Any]) -> None:
    full = frames.fills(raw_example("fills.kraken-doc.json"))
    assert_same_schema(frames.fills({"result": "success", "fills": []}), full)


# --------------------------------------------------------------------------- preferences


def test_leverage(example: Callable[..., Any]) -> None:
    df = frames.leverage(example("leveragepreferences.kraken-doc.json"))
    assert df.index.name == "symbol"
    assert df["max_leverage"].dtype == np.float64
    assert df.loc["PF_XBTUSD", "max_leverage"] == 10.0
    put = frames.leverage(example("leveragepreferences.kraken-doc.json", "SuccessExample"))
    assert_same_schema(put, df)


def test_pnl_preferences(example: Callable[..., Any]) -> None:
    df = frames.pnl_preferences(example("pnlpreferences.kraken-doc.json"))
    assert df.index.name == "symbol"
    assert str(df["pnl_currency"].dtype) == "str"
    assert df["pnl_currency"].to_dict() == {"PF_XBTUSD": "BTC"}
    put = frames.pnl_preferences(example("pnlpreferences.kraken-doc.json", "SuccessExample"))
    assert_same_schema(put, df)


def test_positions_have_one_unrealized_pnl_column() -> None:
    """The mark-based value where a mark is known, an exchange-sent ``unrealizedPnl`` elsewhere."""
    pos = {
        "result": "success",
        "openPositions": [
            {"symbol": "PF_XBTUSD", "side": "long", "size": "2", "price": "100", "unrealizedPnl": 7},
            {"symbol": "PF_ETHUSD", "side": "long", "size": "1", "price": "10", "unrealizedPnl": 3},
        ],
    }
    tick = {"result": "success", "tickers": [{"symbol": "PF_XBTUSD", "markPrice": "110"}]}
    df = frames.positions(pos, tick)
    assert df["unrealized_pnl"].tolist() == [20.0, 3.0]
    assert [c for c in df.columns if "pnl" in c and "unreali" in c] == [
        "unrealized_pnl",
        "unrealized_pnl_usd",
    ]
    assert df["unrealized_pnl_usd"].tolist() == [20.0, 3.0]  # linear: already USD
    assert frames.positions(pos)["unrealized_pnl"].tolist() == [7.0, 3.0]


def test_accounts_effective_fee_rates_by_wallet(example: Callable[..., Any]) -> None:
    """Each margin wallet gets its contracts' schedule at the tier its 30-day volume reaches."""
    schedules = example("feeschedules.kraken-doc.json")
    main, other = (s["uid"] for s in schedules["feeSchedules"][:2])
    instruments = {"result": "success", "instruments": [
        {"symbol": "PF_XBTUSD", "feeScheduleUid": main},
        {"symbol": "FI_XBTUSD_180615", "feeScheduleUid": main},
        {"symbol": "PI_XBTUSD", "feeScheduleUid": other},  # the perpetual's schedule wins
    ]}
    volumes = {"result": "success", "volumesByFeeSchedule": {main: 150_000.0}}
    df = frames.accounts(example("accounts.kraken-doc.json"), schedules, volumes, instruments)
    rows = df.set_index(["account", "currency"])
    flex = rows.loc[("flex", "USD")].iloc[0]  # the summary row comes first
    assert flex["fee_schedule_uid"] == main
    assert (flex["fee_volume_usd"], flex["fee_tier"]) == (150_000.0, 1)
    assert (flex["maker_fee"], flex["taker_fee"]) == (pytest.approx(0.00015), pytest.approx(0.0004))
    fi = rows.loc[("fi_xbtusd", "XBT")]
    assert fi["fee_schedule_uid"] == other
    assert (fi["fee_volume_usd"], fi["fee_tier"]) == (0.0, 0)
    assert (fi["maker_fee"], fi["taker_fee"]) == (pytest.approx(0.0002), pytest.approx(0.0005))
    cash = df[df["account"] == "cash"]
    assert cash["maker_fee"].isna().all()
    assert cash["fee_tier"].isna().all()
    assert frames.accounts(example("accounts.kraken-doc.json"))["maker_fee"].isna().all()
