"""One unit convention over every frame (the ``kfresearch.frames`` docstring, "Units").

Exhaustive over the frame specs: every numeric column says what it measures;
percent lives only in ``_pct`` columns and basis points only in ``_bps``
ones; an amount whose currency varies from row to row names a currency
column of its frame; every time series has a rule for rows that share a
time. Then property tests feed the exchange's percent fields through the
frames (hypothesis) and check where the values land.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kfresearch
from kfresearch import frames
from kfresearch.frames.core import UNITS, FrameSpec
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NUMERIC = {"float", "int", "Int"}


def _all_specs() -> dict[str, FrameSpec]:
    """Every FrameSpec defined anywhere in the package (frames, orders, …)."""
    found: dict[str, FrameSpec] = {}
    for info in pkgutil.walk_packages(kfresearch.__path__, "kfresearch."):
        if ".sim" in info.name or info.name.endswith(("__main__", "cli")):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, FrameSpec):
                found[value.name] = value
    return found


SPECS = _all_specs()


def test_every_public_frame_has_a_spec() -> None:
    public = {n for n in frames.__all__ if n not in {"combine_pages", "to_snake"}}
    assert public <= set(SPECS), sorted(public - set(SPECS))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_numeric_column_declares_its_unit(name: str) -> None:
    spec = SPECS[name]
    columns = set(spec.names)
    for col in spec.columns:
        if col.kind == "float":
            assert col.unit, f"{name}.{col.name} says nothing of its unit"
        if not col.unit:
            continue
        if col.unit.startswith("ccy:"):
            currency = col.unit[4:]
            assert currency in columns, (
                f"{name}.{col.name} is in the currency of {currency!r}, which {name} lacks"
            )
            assert SPECS[name].columns[spec.names.index(currency)].kind in {"str", "upper"}
        else:
            assert col.unit in UNITS, f"{name}.{col.name}: unknown unit {col.unit!r}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_percent_and_bps_only_where_the_name_says(name: str) -> None:
    for col in SPECS[name].columns:
        assert (col.unit == "pct") == col.name.endswith("_pct"), f"{name}.{col.name}"
        assert (col.unit == "bps") == col.name.endswith("_bps"), f"{name}.{col.name}"
        if col.name.endswith("_usd"):
            assert col.unit == "usd", f"{name}.{col.name} is named USD but is {col.unit!r}"


TIME_SERIES = sorted(name for name, spec in SPECS.items() if spec.index == "time")


def test_the_time_series_are_found() -> None:
    assert {"fills", "trades", "executions", "account_log", "order_history"} <= set(TIME_SERIES)


# Rows kept in the order their source sends them, which carries no id to sort by:
# the CSV account log (newest first) and the notices (the exchange's order).
ORDERED_AS_SENT = {"account_log_csv", "notifications"}


@pytest.mark.parametrize("name", TIME_SERIES)
def test_time_series_order_rows_that_share_a_time(name: str) -> None:
    spec = SPECS[name]
    assert spec.order_by or spec.unique == "time" or name in ORDERED_AS_SENT, (
        f"{name}: rows with equal times need a documented order (seq, id) or unique times"
    )
    for key in spec.order_by:
        assert key in spec.names
        assert spec.columns[spec.names.index(key)].kind == "int"


# --------------------------------------------------------------------------- values

percents = st.floats(min_value=-500.0, max_value=500.0, allow_nan=False).map(
    lambda v: round(v, 4)
)


def _tickers(p: float) -> pd.Series:
    body = {"tickers": [{"symbol": "PF_XBTUSD", "markPrice": 1.0, "change24h": str(p)}]}
    return frames.tickers(body).iloc[0]


def _fees(p: float) -> pd.Series:
    tier = {"makerFee": p, "takerFee": p, "usdVolume": 0.0}
    return frames.fee_schedules({"feeSchedules": [{"uid": "u", "tiers": [tier]}]}).iloc[0]


def _log(p: float) -> pd.Series:
    entry = {"id": 1, "booking_uid": "b", "date": "2026-01-01T00:00:00Z", "asset": "usd",
             "conversion_spread_percentage": p}
    return frames.account_log({"logs": [entry]}).iloc[0]


def _order_history(p: float) -> pd.Series:
    options = {"trailingStopOptions": {"maxDeviation": str(p), "unit": "Percent"},
               "limitPriceOffset": {"priceOffset": str(p), "unit": "Percent"}}
    order = {"uid": "o", "tradeable": "PF_XBTUSD", "triggerOptions": options}
    element = {"uid": "e", "timestamp": 1, "event": {"OrderTriggerPlaced": {"order": order}}}
    return frames.order_history({"elements": [element]}).iloc[0]


# (frame row from a raw percent p, column, what the column holds)
PERCENT_FIELDS: list[tuple[Callable[[float], pd.Series], str]] = [
    (_tickers, "change24h"),
    (_fees, "maker_fee"),
    (_fees, "taker_fee"),
    (_log, "conversion_spread_pct"),
    (_order_history, "trailing_stop_max_deviation_pct"),
    (_order_history, "limit_price_offset_pct"),
]


@pytest.mark.parametrize(("row", "column"), PERCENT_FIELDS, ids=[c for _, c in PERCENT_FIELDS])
@settings(max_examples=40, deadline=None)
@given(p=percents)
def test_the_exchanges_percent_lands_as_a_fraction_or_in_a_pct_column(
    row: Callable[[float], pd.Series], column: str, p: float
) -> None:
    value = row(p)[column]
    expected = p if column.endswith("_pct") else p / 100.0
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(p=percents)
def test_percent_trailing_distances_leave_the_quote_columns_empty(p: float) -> None:
    row = _order_history(p)
    assert np.isnan(row["trailing_stop_max_deviation"])
    assert np.isnan(row["limit_price_offset"])


# --------------------------------------------------------------------------- currencies

def _currency_columns(spec: FrameSpec) -> dict[str, str]:
    return {c.name: c.unit[4:] for c in spec.columns if c.unit.startswith("ccy:")}


def _check_currencies(frame: pd.DataFrame, spec: FrameSpec) -> int:
    """Every amount in a row-varying currency has that currency on its row; returns #checked."""
    checked = 0
    legs = frame["is_position_leg"] if "is_position_leg" in frame.columns else None
    for column, currency in _currency_columns(spec).items():
        present = frame[column].notna()
        if legs is not None:
            present &= ~legs  # position legs hold contracts, not money (documented)
        missing = present & frame[currency].isna()
        assert not missing.any(), f"{spec.name}.{column} has amounts without {currency}"
        checked += int(present.sum())
    return checked


@pytest.fixture(scope="module")
def session() -> Any:
    """A sim account that traded linear and inverse contracts through funding hours."""
    exchange = SimExchange(seed=5, clock=SimClock.fixed("2026-03-01T00:00:00Z"))
    kf = kfresearch.connect("sim", exchange=exchange)
    kf.place_order("PF_XBTUSD", "buy", 0.5, order_type="mkt")
    kf.place_order("PI_XBTUSD", "sell", 3000, order_type="mkt")
    kf.place_order("PF_ETHUSD", "sell", 2, order_type="mkt")
    kf.sim.advance(3 * 3_600_000)
    kf.place_order("PI_XBTUSD", "buy", 5000, order_type="mkt")
    kf.place_order("PF_XBTUSD", "sell", 0.8, order_type="mkt")
    kf.sim.advance(3_600_000)
    return kf


def test_frames_with_mixed_currencies_say_the_currency_on_every_row(session: Any) -> None:
    kf = session
    built = {
        "tickers": kf.tickers(),
        "positions": kf.positions(),
        "accounts": kf.accounts(),
        "executions": kf.executions(since="1d"),
        "account_log": kf.account_log(since="1d"),
        "orderbook": kf.orderbook("PI_XBTUSD"),
        "funding_rates": kf.funding_rates("PI_XBTUSD", since="1d"),
    }
    body = kf.request("GET", "/api/history/v3/positions", {"since": 0}, private=True)
    built["positions_history"] = frames.positions_history(body)
    for name, frame in built.items():
        assert _check_currencies(frame, SPECS[name]) > 0, name
    # both kinds of contract are in these frames, so their amounts really do mix
    for name in ("positions", "executions", "account_log", "positions_history"):
        assert {"USD", "XBT"} <= set(built[name]["currency"].dropna()), name


def test_one_name_for_one_quantity_across_frames() -> None:
    """The relative funding rate is ``relative_funding_rate`` in every frame that has it."""
    names = {c.name for spec in SPECS.values() for c in spec.columns}
    assert "relative_funding_rate" in SPECS["tickers"].names
    assert "relative_funding_rate" in SPECS["funding_rates"].names
    assert not {n for n in names if "funding" in n and n.endswith("_relative")}
    assert not {n for n in names if n.endswith("_rate") and "fee" in n}  # maker_fee, taker_fee
