"""Acceptance: a backtest worked out on paper (one round trip, one funding payment, known
fees) matches to the cent, and a leveraged long is liquidated through a crash at the price
and time the engine's margin rules give."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kfresearch.sim import margin
from kfresearch.sim.instruments import spec_for
from kfresearch.store import Store
from kfresearch.strategy import Bar, Context, Strategy, backtest

from .conftest import SYMBOL, RoundTrip, write_market

START = pd.Timestamp("2026-09-30T23:59:00Z")  # the first bar closes at 00:00
HOUR = pd.Timestamp("2026-10-01T00:00:00Z")


def test_round_trip_with_funding_matches_the_hand_computation(tmp_path: Path) -> None:
    # 61 minutes at 100,000 (23:59 … 00:59), then 101,000; funding 5 USD per XBT per hour
    # in the hour 00:00, none in the hour 01:00; no book snapshots: the replay's model book
    # is one tick wide around the last trade, 50,000 USD a level.
    closes = [100_000.0] * 61 + [101_000.0] * 10
    write_market(tmp_path, START, closes, {HOUR - pd.Timedelta(hours=1): 0.0, HOUR: 5.0,
                                           HOUR + pd.Timedelta(hours=1): 0.0})
    until = START + pd.Timedelta(minutes=len(closes))
    result = backtest(RoundTrip(), Store(tmp_path), SYMBOL, START, until, seed=1)

    # on paper: buy 0.2 at the ask 100,000 (last trade 100,000: bid 99,999, ask 100,000);
    # sell 0.2 at 01:05 at the bid 100,999 (last trade 101,000: bid 100,999, ask 101,000);
    # taker fee 0.05 % of notional (fee tier 0); the long pays 0.2 x 5 = 1.00 USD of funding
    # at 01:00 and nothing after.
    buy_fee, sell_fee = 0.2 * 100_000 * 0.0005, 0.2 * 100_999 * 0.0005
    gross = 0.2 * (100_999 - 100_000)
    net = gross - buy_fee - sell_fee - 1.00
    fills = result.fills
    assert list(fills["side"]) == ["buy", "sell"]
    assert list(fills["price"]) == [100_000.0, 100_999.0]
    assert list(fills.index) == [HOUR, HOUR + pd.Timedelta(minutes=65)]
    assert list(fills["fill_type"]) == ["taker", "taker"]
    assert fills["fee"].round(4).tolist() == [round(buy_fee, 4), round(sell_fee, 4)]
    assert result.funding["amount"].round(2).tolist() == [-1.00]
    assert result.funding.index.tolist() == [HOUR + pd.Timedelta(hours=1)]
    assert result.funding["rate"].tolist() == [5.0]
    stats = result.stats
    assert round(stats["net_pnl_usd"], 2) == round(net, 2) == 178.70
    assert round(stats["gross_pnl_usd"], 2) == round(gross, 2) == 199.80
    assert round(stats["fees_usd"], 2) == round(buy_fee + sell_fee, 2) == 20.10
    assert round(stats["funding_usd"], 2) == 1.00
    assert round(result.equity["equity_usd"].iloc[-1], 2) == round(100_000 + net, 2)
    # the hooks saw the same story, in the exchange's order
    events = result.strategy.events  # type: ignore[attr-defined]
    assert [type(e).__name__ for e in events] == ["Fill", "Funding", "Fill"]
    # and the exchange's own wallet agrees with the strategy's accounting
    accounts = result.kf.accounts()
    flex = accounts[accounts["account"] == "flex"]
    assert round(float(flex["quantity"].dropna().iloc[0]), 4) == round(100_000 + net, 4)
    assert round(float(flex["portfolio_value"].dropna().iloc[0]), 4) == round(100_000 + net, 4)
    assert result.kf.positions().empty


@dataclass
class Leveraged(Strategy):
    """Buy ``size`` at the first bar close and hold it."""

    size: float = 20.0

    def on_start(self, ctx: Context) -> None:
        self.bought = False

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        if not self.bought:
            ctx.buy(bar.symbol, self.size)
            self.bought = True


def test_a_leveraged_long_is_liquidated_where_the_engine_rules_say(tmp_path: Path) -> None:
    # 20 XBT at 100,000 (2 M USD on 100,000 USD: 20x), then the price falls 0.5 % a
    # minute. A book snapshot at 00:00 holds the size at the ask.
    crash = [100_000.0 * (1 - 0.005 * k) for k in range(1, 30)]
    closes = [100_000.0, *[round(p) for p in crash]]
    write_market(tmp_path, START, closes, {HOUR - pd.Timedelta(hours=1): 0.0, HOUR: 0.0},
                 book={HOUR: (99_999.0, 100_000.0, 100.0)})
    until = START + pd.Timedelta(minutes=len(closes))
    result = backtest(Leveraged(), Store(tmp_path), SYMBOL, START, until, seed=1)

    buy, liquidation = result.fills.iloc[0], result.fills.iloc[-1]
    assert (buy["side"], buy["size"], buy["price"]) == ("buy", 20.0, 100_000.0)
    # the engine's rule: at each minute's end the mark is the last complete mark candle's
    # close; the pool is liquidated at the first mark where equity < maintenance margin,
    # at that mark
    spec = spec_for(SYMBOL)
    assert spec is not None
    equity0 = 100_000.0 - float(buy["fee"])
    expected = None
    for k, mark in enumerate(closes[2:], start=2):
        risk = margin.position_risk(spec, 20.0, 100_000.0, mark, 0.0)
        if equity0 + risk.pnl < risk.maintenance_margin:
            expected = (START + pd.Timedelta(minutes=k + 1), mark)
            break
    assert expected is not None
    assert liquidation["fill_type"] == "liquidation"
    assert (liquidation.name, liquidation["price"]) == expected
    assert (liquidation["side"], liquidation["size"]) == ("sell", 20.0)
    assert result.stats["liquidations"] == 1
    assert result.positions[SYMBOL].iloc[-1] == 0.0
    assert result.kf.positions().empty
    # the previous minute was still above maintenance: not liquidated early
    before = closes[closes.index(expected[1]) - 1]
    risk = margin.position_risk(spec, 20.0, 100_000.0, before, 0.0)
    assert equity0 + risk.pnl >= risk.maintenance_margin
