"""Account charts on simulator frames (equity from the account log, open positions)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import kfresearch
from kfresearch import charts
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

SEND = "/derivatives/api/v3/sendorder"


@pytest.fixture(scope="module")
def kf() -> Any:
    client = kfresearch.Client(
        "sim", exchange=SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    )
    client.request("POST", SEND, {"orderType": "mkt", "symbol": "PF_ETHUSD", "side": "buy",
                                  "size": 1})
    client.request("POST", SEND, {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "sell",
                                  "size": 0.1})
    client.sim.advance(3_600_000)
    client.request("POST", SEND, {"orderType": "mkt", "symbol": "PF_ETHUSD", "side": "sell",
                                  "size": 0.4})
    client.sim.advance(3_600_000)
    yield client
    client.close()


def by_name(fig: Any, name: str) -> Any:
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def test_equity_balance_steps_through_the_cash_entries(kf: Any) -> None:
    log = kf.account_log(progress=False)
    cash = log[~log["is_position_leg"] & (log["asset"] == "usd")]
    assert len(cash) >= 4  # two trades, a partial close, funding
    fig = charts.equity_chart(log)
    balance = by_name(fig, "balance")
    y = np.asarray(balance.y, dtype=float)
    assert y[0] == cash["old_balance"].iloc[0]
    assert y[-1] == pytest.approx(cash["new_balance"].iloc[-1])
    last_per_time = cash["new_balance"].groupby(level=0).last()
    np.testing.assert_allclose(y[1:], last_per_time.to_numpy())
    assert pd.DatetimeIndex(pd.to_datetime(list(balance.x), utc=True))[1:].equals(
        last_per_time.index)
    assert balance.line.shape == "hv"
    realised = by_name(fig, "realised PnL")
    assert realised.y[-1] == pytest.approx(cash["realized_pnl"].sum())
    assert by_name(fig, "fees").y[-1] == pytest.approx(-cash["fee"].sum())
    assert by_name(fig, "funding").y[-1] == pytest.approx(cash["realized_funding"].sum())
    assert "account value" not in [t.name for t in fig.data]
    assert fig.layout.title.text == "equity (USD) · sim"
    assert fig.layout.yaxis.title.text == "value (USD)"
    assert fig.layout.xaxis2.title.text == "time (UTC)"


def test_equity_with_unrealised_now_and_over_time(kf: Any) -> None:
    log = kf.account_log(progress=False)
    positions = kf.positions()
    upnl = float(positions.loc[~positions["is_inverse"], "unrealized_pnl"].sum())
    fig = charts.equity_chart(log, unrealised=upnl)
    value = by_name(fig, "account value")
    last_balance = by_name(fig, "balance").y[-1]
    assert list(value.y) == [pytest.approx(last_balance + upnl)]
    assert pd.Timestamp(value.x[0]) >= log.index.max()
    assert value.text[-1].endswith("USD")
    stamps = pd.DatetimeIndex([log.index.min(), log.index.max()])
    series = pd.Series([1.0, 2.0], index=stamps)
    over_time = charts.equity_chart(log, unrealised=series)
    np.testing.assert_allclose(np.asarray(by_name(over_time, "unrealised PnL").y), [1.0, 2.0])
    assert by_name(over_time, "account value").y[-1] == pytest.approx(last_balance + 2.0)
    naive = pd.Series([3.0], index=[log.index.max().tz_localize(None)])
    assert list(by_name(charts.equity_chart(log, unrealised=naive), "unrealised PnL").y) == [3.0]


def test_equity_filters_asset_and_wallet() -> None:
    body = {"accountUid": "a", "logs": [
        {"id": 1, "booking_uid": "b1", "date": "2026-11-01T00:00:00Z", "asset": "usd",
         "margin_account": "flex", "info": "transfer", "old_balance": 0, "new_balance": 100},
        {"id": 2, "booking_uid": "b2", "date": "2026-11-01T01:00:00Z", "asset": "xbt",
         "margin_account": "fi_xbtusd", "info": "transfer", "old_balance": 1,
         "new_balance": 2},
        {"id": 3, "booking_uid": "b3", "date": "2026-11-01T02:00:00Z", "asset": "usd",
         "margin_account": "cash", "info": "transfer", "old_balance": 50, "new_balance": 40},
    ]}
    log = kfresearch.frames.account_log(body)
    both = by_name(charts.equity_chart(log), "balance")
    # two USD wallets added up: opening 0 + 50, then 100 + 50, then 100 + 40
    assert list(both.y) == [50.0, 150.0, 140.0]
    flex = by_name(charts.equity_chart(log, account="flex"), "balance")
    assert list(flex.y) == [0.0, 100.0]
    xbt = charts.equity_chart(log, asset="xbt")
    assert list(by_name(xbt, "balance").y) == [1.0, 2.0]
    assert xbt.layout.title.text == "equity (XBT)"
    assert charts.equity_chart(log, asset="eth").layout.annotations[0].text == "no data"


def test_positions_entry_mark_and_liquidation(kf: Any) -> None:
    positions = kf.positions()
    fig = charts.positions_chart(positions, liquidation={"pf_ethusd": 1500.0})
    assert [t.name for t in fig.data] == ["entry to mark", "entry", "mark", "liquidation"]
    symbols = list(positions.index)
    entry, mark, liq = by_name(fig, "entry"), by_name(fig, "mark"), by_name(fig, "liquidation")
    assert list(entry.y) == list(mark.y) == list(liq.y) == symbols
    np.testing.assert_array_equal(np.asarray(entry.customdata)[:, 0].astype(float),
                                  positions["entry_price"].to_numpy())
    assert list(entry.x) == [0.0] * len(symbols)
    expected = (positions["mark_price"] / positions["entry_price"] - 1.0) * 100.0
    np.testing.assert_allclose(np.asarray(mark.x, dtype=float), expected.to_numpy())
    np.testing.assert_allclose(np.asarray(mark.customdata)[:, 0].astype(float),
                               positions["mark_price"].to_numpy())
    colors = list(mark.marker.color)
    for symbol, color in zip(symbols, colors, strict=True):
        profit = positions.loc[symbol, "unrealized_pnl"] >= 0
        assert color == charts.COLORS["buy" if profit else "sell"]
    eth = symbols.index("PF_ETHUSD")
    assert liq.x[eth] == pytest.approx((1500.0 / positions.loc["PF_ETHUSD", "entry_price"] - 1)
                                       * 100.0)
    assert np.isnan(liq.x[symbols.index("PF_XBTUSD")])
    assert "uPnL" in mark.text[eth]
    assert mark.text[eth].endswith("USD")
    ticks = list(fig.layout.yaxis.ticktext)
    assert ticks[eth].endswith("long 0.6 ETH")
    assert ticks[symbols.index("PF_XBTUSD")].endswith("short 0.1 XBT")
    assert fig.layout.xaxis.title.text == "price vs entry (%)"
    assert fig.layout.title.text == "open positions · sim"


def test_positions_without_marks_or_liquidation() -> None:
    body = {"result": "success", "openPositions": [
        {"side": "short", "symbol": "PI_XBTUSD", "price": "30000", "size": "1000"}]}
    positions = kfresearch.frames.positions(body)
    fig = charts.positions_chart(positions)
    assert [t.name for t in fig.data] == ["entry to mark", "entry", "mark"]
    assert np.isnan(fig.data[2].x[0])
    with_column = positions.assign(liquidation_price=[45000.0])
    liq = by_name(charts.positions_chart(with_column), "liquidation")
    assert liq.x[0] == pytest.approx(50.0)
    inverse = kfresearch.frames.positions(
        body, {"result": "success", "tickers": [{"symbol": "PI_XBTUSD", "markPrice": "31000"}]})
    text = by_name(charts.positions_chart(inverse), "mark").text[0]
    assert text.startswith("uPnL -")
    assert text.endswith("XBT")
