"""The engine's stepping shortcuts equal the plain computations, to the bit.

- ``Valuation.pool_margin`` (what liquidation reads: equity, maintenance margin and each
  position's PnL, funding and maintenance) against ``flex_summary`` / ``wallet_summary``;
- ``Lifecycle._quiet_minutes`` answering from its last scan of the marks against a scan
  made afresh;
- ``Prices.first_minute_outside`` (a day of a replay's minute marks read once and kept)
  against ``first_mark_outside`` and the marks read one by one.
"""

from __future__ import annotations

import numpy as np
import pytest

from kfresearch.sim.accounts import Account
from kfresearch.sim.clock import SimClock
from kfresearch.sim.engine import Engine
from kfresearch.sim.market import SyntheticMarket
from kfresearch.sim.orders import OrderRequest
from kfresearch.sim.prices import Prices

ACCOUNT = "steps"
MINUTE = 60_000
HOUR = 3_600_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


def _send(engine: Engine, request: OrderRequest, t: int) -> None:
    answer = engine.send_order(ACCOUNT, request, t)
    assert answer["status"] == "placed", answer


def _mixed() -> Engine:
    """An account with every kind of pool: cross linear positions long and short, an
    isolated one, a symbol with an open order only, coins among the flex collateral,
    an inverse position in its own wallet."""
    engine = Engine(SyntheticMarket(42), seed=3)
    engine.account(ACCOUNT, T0)
    assert engine.set_max_leverage(ACCOUNT, "PF_SOLUSD", 5.0, T0) is None
    _send(engine, OrderRequest("mkt", "PF_XBTUSD", "buy", 0.37), T0)
    _send(engine, OrderRequest("mkt", "PF_ETHUSD", "sell", 4.1), T0 + 1_000)
    _send(engine, OrderRequest("mkt", "PF_SOLUSD", "buy", 30.0), T0 + 2_000)
    _send(engine, OrderRequest("lmt", "PF_LTCUSD", "buy", 10.0, 1.0), T0 + 3_000)
    _send(engine, OrderRequest("mkt", "PI_XBTUSD", "sell", 5_000), T0 + 4_000)
    with engine.unit(T0 + 5_000):
        engine.ledger.credit(engine.accounts[ACCOUNT], "flex", "XBT", 0.25)
    return engine


def _plain(engine: Engine, acc: Account, wallet: str, t: int) -> tuple[float, float, list[tuple]]:
    """(equity, maintenance, [(symbol, size, pnl, funding, maintenance)]) from the summaries."""
    if wallet == "flex":
        flex = engine.valuation.flex_summary(acc, t)
        equity, maintenance, risks = flex.margin_equity, flex.maintenance_margin, flex.risks
    else:
        single = engine.valuation.wallet_summary(acc, wallet, t)
        equity, maintenance = single.portfolio_value, single.maintenance_margin
        risks = single.risks
    rows = [(r.spec.symbol, r.size, r.pnl, r.unrealized_funding, r.maintenance_margin)
            for r in risks]
    return equity, maintenance, rows


@pytest.mark.parametrize("wallet", ["flex", "fi_xbtusd", "fi_ethusd"])
def test_pool_margin_is_what_the_summaries_say(wallet: str) -> None:
    engine = _mixed()
    acc = engine.accounts[ACCOUNT]
    assert {"PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PI_XBTUSD"} <= set(acc.positions)
    assert "PF_LTCUSD" in acc.book.symbols()
    checked = 0
    for t in range(T0 + 7 * MINUTE, T0 + 3 * HOUR, 13 * MINUTE + 7_000):
        engine.advance(t)  # funding accrues and is realised: the amounts move
        equity, maintenance, exposures = engine.valuation.pool_margin(acc, wallet, t)
        plain_equity, plain_maintenance, rows = _plain(engine, acc, wallet, t)
        assert (equity, maintenance) == (plain_equity, plain_maintenance)
        assert [(e.spec.symbol, e.size, e.pnl, e.unrealized_funding, e.maintenance_margin)
                for e in exposures] == rows
        checked += len(rows)
    if wallet == "flex":
        assert checked > 4 * 8  # four symbols each time, one with an order only
    if wallet == "fi_ethusd":
        assert checked == 0  # no position: the wallet's balance alone


def test_pool_margin_counts_the_coins_at_their_price_after_the_haircut() -> None:
    engine = _mixed()
    acc = engine.accounts[ACCOUNT]
    t = T0 + 10 * MINUTE
    engine.advance(t)
    with_coin = engine.valuation.pool_margin(acc, "flex", t)[0]
    with engine.unit(t):
        engine.ledger.credit(acc, "flex", "XBT", -0.25)
    without = engine.valuation.pool_margin(acc, "flex", t)[0]
    coin = 0.25 * engine.prices.usd_value("XBT", t) * 0.98
    assert with_coin - without == pytest.approx(coin, rel=1e-9)


def _held(size: float) -> Engine:
    engine = Engine(SyntheticMarket(42), seed=5)
    _send(engine, OrderRequest("mkt", "PF_XBTUSD", "buy", size), T0)
    engine.advance(T0 + MINUTE)  # the first full check after the order: the account is banded
    return engine


def _fresh(engine: Engine, t: int, now: int) -> tuple[int, int]:
    """_quiet_minutes without the last scan."""
    lifecycle = engine.lifecycle
    kept = lifecycle._scanned
    lifecycle._scanned = (-1, [], 0, 0)
    try:
        return lifecycle._quiet_minutes(t, now)
    finally:
        lifecycle._scanned = kept


@pytest.mark.parametrize("size", [0.5, 6.0])
def test_quiet_minutes_from_the_last_scan_are_a_fresh_scan(size: float) -> None:
    """quiet_until scans to the hour; advance asks again up to any time before it."""
    engine = _held(size)
    lifecycle = engine.lifecycle
    answers = set()
    for start in range(T0 + MINUTE, T0 + 6 * HOUR, 17 * MINUTE + 3_000):
        engine.advance(start)
        t = engine.now_ms
        assert t is not None
        horizon = t + 2 * HOUR
        due = engine.quiet_until(horizon)
        scans = lifecycle._scanned
        for now in [due, due - 1, due + 1, t + 1, t + MINUTE, t + 2 * MINUTE + 1,
                    (t // HOUR + 1) * HOUR, (t // HOUR + 1) * HOUR - 1, horizon]:
            first, quiet = lifecycle._quiet_minutes(t, now)
            assert (first, quiet) == _fresh(engine, t, now), (t, now)
            answers.add(quiet)
        assert lifecycle._scanned[0] == scans[0]
    assert 0 in answers
    assert max(answers) > 30  # long quiet spans were answered from the scan


def test_a_changed_band_is_scanned_afresh() -> None:
    engine = _held(1.0)
    lifecycle = engine.lifecycle
    t = engine.now_ms
    assert t is not None
    engine.quiet_until(T0 + HOUR)
    symbol, _low, high = lifecycle._scanned[1][0]
    assert lifecycle._quiet_minutes(t, T0 + HOUR)[1] > 0
    # a band no mark is inside: a fresh scan says no minute is quiet
    acc = engine.accounts[ACCOUNT]
    quiet = lifecycle.liquidator._quiet[acc.account_id]
    quiet.bands = [(symbol, high * 2, high * 3)]
    first, n = lifecycle._quiet_minutes(t, T0 + HOUR)
    assert (first, n) == (t + MINUTE, 0)
    assert lifecycle._scanned[1] == [(symbol, high * 2, high * 3)]


def test_a_fixed_clock_moves_to_a_time_as_advance_does() -> None:
    moved, advanced = SimClock.fixed(T0), SimClock.fixed(T0)
    for t in (T0, T0 + 1, T0 + MINUTE, T0 + HOUR + 17):
        moved.move_to(t)
        advanced.advance(t - advanced.now_ms())
        assert moved.now_ms() == advanced.now_ms() == t
    with pytest.raises(ValueError, match="at or before"):
        moved.move_to(T0)
    with pytest.raises(ValueError, match="use advance"):
        SimClock("real").move_to(T0)


class _Vectorised(SyntheticMarket):
    """The synthetic market with a replay's vectorised mark read, counting its calls."""

    reads = 0

    def mark_prices(self, symbol: str, times_ms: np.ndarray) -> np.ndarray:
        self.reads += 1
        return np.array([self.mark_price(symbol, t) for t in times_ms.tolist()], dtype=float)


def test_the_first_minute_outside_a_band_is_the_first_mark_outside() -> None:
    market = _Vectorised(42)
    prices, plain = Prices(market), Prices(SyntheticMarket(42))
    symbol = "PF_XBTUSD"
    mark = market.mark_price(symbol, T0)
    day = 86_400_000
    answers = []
    for first in (T0 + MINUTE, T0 + 7 * HOUR, T0 + 7 * HOUR + 12_345, T0 + day - 30 * MINUTE,
                  T0 + day + HOUR):
        for count in (0, 1, 2, 59, 60):
            times = first + MINUTE * np.arange(count, dtype=np.int64)
            for width in (0.0005, 0.002, 0.01, 0.05):
                low, high = mark * (1 - width), mark * (1 + width)
                got = prices.first_minute_outside(symbol, low, high, first, count)
                assert got == prices.first_mark_outside(symbol, low, high, times)
                assert got == plain.first_mark_outside(symbol, low, high, times)  # one by one
                answers.append((count, got))
    assert {got for count, got in answers if count == 60} >= {0, 60}
    assert any(0 < got < count for count, got in answers)
    before = market.reads
    prices.first_minute_outside(symbol, 0.0, 1e9, T0 + 9 * HOUR, 60)
    assert market.reads == before + 1  # another day: one read of its minutes
    prices.first_minute_outside(symbol, 0.0, 1e9, T0 + 9 * HOUR + 5 * MINUTE, 30)
    prices.first_minute_outside(symbol, 0.0, 1e9, T0 + 23 * HOUR + MINUTE, 59)
    assert market.reads == before + 1  # the day's minutes are kept


def test_a_mark_read_from_the_kept_day_is_the_markets() -> None:
    market = _Vectorised(42)
    prices = Prices(market)
    symbol = "PF_XBTUSD"
    prices.first_minute_outside(symbol, 0.0, 1e9, T0 + 3 * HOUR + MINUTE, 59)  # keeps the day
    reads = market.reads
    for t in [T0, T0 + MINUTE, T0 + 3 * HOUR + 17 * MINUTE, T0 + 3 * HOUR + 17 * MINUTE + 1,
              T0 + 86_400_000 - MINUTE, T0 + 86_400_000, T0 - MINUTE]:
        prices.forget()
        got = prices.mark(symbol, t)
        assert type(got) is float
        assert got == market.mark_price(symbol, t)
    assert market.reads == reads
    # kept: the day's minute marks; a minute without one is the market's to answer
    kept = prices._minute_marks[symbol][1]
    kept[5] = np.nan
    prices.forget()
    assert prices.mark(symbol, T0 + 5 * MINUTE) == market.mark_price(symbol, T0 + 5 * MINUTE)
