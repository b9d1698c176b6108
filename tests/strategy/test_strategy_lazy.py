"""A backtest that advances its engine only when something can happen (lazy stepping,
quiet minutes taken at once) gives exactly what stepping the engine every bar, minute by
minute, gives: the same fills, orders, funding, equity, and the same engine accounts to
the last bit (wallets, positions and their accrued funding, the account log).

Markets are written by hand (``write_market``): a leveraged long liquidated inside an
hour after its mark left its band several times, positions held over many funding
hours on a random walk, and a 1x long whose mark leaves the 5 % band and comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kfresearch.sim.engine import Engine
from kfresearch.sim.lifecycle import Lifecycle
from kfresearch.sim.orders import OrderRequest
from kfresearch.sim.replay import ReplaySource
from kfresearch.store import Store
from kfresearch.strategy import Result, Strategy, backtest
from kfresearch.strategy.backtests import ReplayVenue

from .conftest import SYMBOL, RoundTrip, SmaCross, write_market

START = pd.Timestamp("2026-09-30T23:59:00Z")  # the first bar closes at 00:00
MINUTE = pd.Timedelta(minutes=1)
FRAMES = ("equity", "positions", "fills", "orders", "funding")


def _market(root: Path, closes: Sequence[float], seed: int = 3) -> pd.Timestamp:
    """``closes`` from ``START`` with a funding rate every hour; the window's end."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(START.floor("h"), START + len(closes) * MINUTE, freq="1h")
    write_market(root, START, closes, {h: float(rng.normal(2.0, 4.0)) for h in hours})
    return START + len(closes) * MINUTE


def _run(strategy: Strategy, root: Path, until: pd.Timestamp, *, lazy: bool,
         monkeypatch: pytest.MonkeyPatch) -> tuple[Result, int]:
    """The backtest, lazily or as the reference (every bar, every minute in full);
    with how many full engine steps it took."""
    count = 0
    full = Lifecycle._step

    def step(self: Lifecycle, t0: int, t1: int) -> None:
        nonlocal count
        count += 1
        full(self, t0, t1)

    with monkeypatch.context() as patch:
        patch.setattr(Lifecycle, "_step", step)
        patch.setattr(ReplayVenue, "lazy", lazy)
        patch.setattr(Lifecycle, "spans", lazy)
        result = backtest(strategy, Store(root), SYMBOL, START, until, seed=4)
    return result, count


def _same(strategy: Strategy, root: Path, until: pd.Timestamp,
          monkeypatch: pytest.MonkeyPatch) -> tuple[Result, int, int]:
    """Assert the lazy backtest equals the reference; it, and both counts of full steps."""
    lazy, lazy_steps = _run(strategy, root, until, lazy=True, monkeypatch=monkeypatch)
    ref, ref_steps = _run(strategy, root, until, lazy=False, monkeypatch=monkeypatch)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(lazy, name), getattr(ref, name), check_exact=True)
    pd.testing.assert_series_equal(lazy.stats, ref.stats, check_exact=True)
    engine, ref_engine = lazy.kf.sim.engine, ref.kf.sim.engine  # type: ignore[attr-defined]
    assert engine.now_ms == ref_engine.now_ms
    assert dict(engine.accounts) == dict(ref_engine.accounts)
    return lazy, lazy_steps, ref_steps


def test_a_leveraged_long_liquidated_inside_the_hour(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # 5 XBT at 100,000 on 100,000 USD (5x): flat for 95 minutes, then 0.3 % down a minute;
    # its 5 % band is left (and drawn again) before equity meets maintenance
    closes = [100_000.0] * 95 + [round(100_000.0 * 0.997**k) for k in range(1, 90)]
    until = _market(tmp_path, closes)
    result, lazy_steps, ref_steps = _same(RoundTrip(size=5.0, exit_bar=0), tmp_path, until, monkeypatch)
    liquidated = result.fills[result.fills["fill_type"] == "liquidation"]
    assert len(liquidated) == 1
    when = liquidated.index[0]
    assert when.minute not in (0, 59)
    assert when > START + 96 * MINUTE
    assert len(result.funding) >= 2  # paid at the hours before
    assert lazy_steps < ref_steps / 3


def test_positions_held_over_many_funding_hours(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    closes = np.round(100_000.0 * np.exp(np.cumsum(rng.normal(0, 0.0007, 2 * 1440))))
    until = _market(tmp_path, closes.tolist())
    held, lazy_steps, ref_steps = _same(RoundTrip(size=0.3, exit_bar=1700), tmp_path, until,
                                        monkeypatch)
    # every hour 01:00 … 04:00 of the next day, then what accrued until the sale at 04:19
    assert held.funding["rate"].notna().sum() == 28
    assert len(held.funding) == 29
    assert lazy_steps < ref_steps / 10
    crossing, lazy_steps, ref_steps = _same(SmaCross(fast=20, slow=120, size=0.05), tmp_path,
                                            until, monkeypatch)
    assert len(crossing.fills) > 20
    assert len(crossing.funding) > 30
    assert lazy_steps < ref_steps / 4


def test_the_mark_leaves_the_band_and_no_one_is_liquidated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a 1x long: up 12 % in 40 minutes, back down in 40, four times over
    wave = [100_000.0 * (1 + 0.003 * k) for k in range(40)]
    wave += [100_000.0 * (1 + 0.003 * (40 - k)) for k in range(40)]
    until = _market(tmp_path, [round(p) for p in 4 * wave])
    result, lazy_steps, ref_steps = _same(RoundTrip(size=1.0, exit_bar=0), tmp_path, until, monkeypatch)
    assert (result.fills["fill_type"] != "liquidation").all()
    assert result.positions[SYMBOL].iloc[-1] == 1.0
    assert lazy_steps < ref_steps / 3


def _crash_engine(root: Path, at: int) -> Engine:
    closes = [100_000.0] * 95 + [round(100_000.0 * 0.997**k) for k in range(1, 90)]
    _market(root, closes)
    engine = Engine(ReplaySource(Store(root)), seed=2)
    engine.lifecycle.spans = False
    answer = engine.send_order("acc", OrderRequest("mkt", SYMBOL, "buy", 5.0), at)
    assert answer["status"] == "placed", answer
    return engine


def test_quiet_until_stops_at_every_change_on_the_replay(tmp_path: Path) -> None:
    start = int(START.value // 10**6) + 3 * 60_000
    engine = _crash_engine(tmp_path, start)
    acc = engine.accounts["acc"]
    horizon = start + 170 * 60_000
    marks: Callable[[], tuple[int, ...]] = lambda: (len(acc.log), len(acc.fills),  # noqa: E731
                                                    len(acc.orders))
    seen, skipped, stops = marks(), 0, []
    for t in range(start + 60_000, horizon + 1, 60_000):
        due = engine.quiet_until(horizon)
        assert t <= due <= horizon
        engine.advance(t)
        if t < due:
            skipped += 1
            assert marks() == seen, t
        else:
            stops.append(t)
        seen = marks()
    assert not acc.positions  # liquidated in the crash
    assert skipped > 100
    assert len(stops) > 3  # the hours, the band exits, the liquidation


def test_the_replay_reads_marks_in_one_go_as_one_by_one(tmp_path: Path) -> None:
    _market(tmp_path, [100_000.0 + k for k in range(200)])
    source = ReplaySource(Store(tmp_path))
    first = int(START.value // 10**6)
    times = np.arange(first - 5 * 60_000, first + 210 * 60_000, 30_000, dtype=np.int64)
    marks = source.mark_prices(SYMBOL.lower(), times)
    for t, mark in zip(times.tolist(), marks.tolist(), strict=True):
        if t < first + 60_000:  # no candle complete yet
            assert np.isnan(mark)
        else:
            assert mark == source.mark_price(SYMBOL, t)
