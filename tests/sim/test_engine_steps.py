"""The engine's stepping shortcuts equal the plain computations, to the bit.

- ``Valuation.pool_margin`` (what liquidation reads: equity, maintenance margin and each
  position's PnL, funding and maintenance) against ``flex_summary`` / ``wallet_summary``;
- ``Lifecycle._quiet_minutes`` answering from its last scan of the marks against a scan
  made afresh.
"""

from __future__ import annotations

import numpy as np
import pytest

from kfresearch.sim.accounts import Account
from kfresearch.sim.clock import SimClock
from kfresearch.sim.engine import Engine
from kfresearch.sim.market import SyntheticMarket
from kfresearch.sim.orders import OrderRequest

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


def _fresh(engine: Engine, t: int, now: int) -> tuple[list[int], int]:
    """_quiet_minutes without the last scan."""
    lifecycle = engine.lifecycle
    kept = lifecycle._scanned
    lifecycle._scanned = (-1, [], 0, lifecycle._scanned[3][:0], 0)
    try:
        ends, quiet = lifecycle._quiet_minutes(t, now)
    finally:
        lifecycle._scanned = kept
    return ends.tolist(), quiet


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
            ends, quiet = lifecycle._quiet_minutes(t, now)
            assert (ends.tolist(), quiet) == _fresh(engine, t, now), (t, now)
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
    ends, n = lifecycle._quiet_minutes(t, T0 + HOUR)
    assert n == 0
    assert ends.size > 0
    assert lifecycle._scanned[1] == [(symbol, high * 2, high * 3)]
    np.testing.assert_array_equal(ends, np.arange(t + MINUTE, T0 + HOUR, MINUTE))


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
