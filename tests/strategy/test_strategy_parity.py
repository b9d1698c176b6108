"""Acceptance: one strategy object, the same fills from a backtest of a stored window and
from run() on the simulator driven over the same window, its bars closed by the stream
(kf.stream()), through reconnects, and in the background of an event loop (arun)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import StreamError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.store import Store
from kfresearch.strategy import (
    Bar,
    Book,
    Context,
    Fill,
    Result,
    Strategy,
    Trade,
    arun,
    backtest,
    run,
)

from .conftest import SYMBOL, WINDOW_SINCE, WINDOW_UNTIL, SmaCross

FILL_COLUMNS = ["symbol", "side", "size", "price", "notional_usd", "fee", "fee_currency",
                "fill_type"]


@pytest.fixture(scope="module")
def both(sim_store: Path) -> tuple[Result, Result, SmaCross]:
    strategy = SmaCross(fast=5, slow=20, size=0.1)
    tested = backtest(strategy, Store(sim_store), SYMBOL, WINDOW_SINCE, WINDOW_UNTIL, seed=42)
    exchange = SimExchange(seed=42, clock=SimClock.fixed(WINDOW_SINCE))
    kf = kfresearch.connect("sim", exchange=exchange)
    ran = run(strategy, kf, SYMBOL, until=WINDOW_UNTIL)
    return tested, ran, strategy


def test_backtest_and_run_fill_identically(both: tuple[Result, Result, SmaCross]) -> None:
    tested, ran, _ = both
    assert len(tested.fills) >= 4  # the rule traded: the comparison is not vacuous
    pd.testing.assert_frame_equal(tested.fills[FILL_COLUMNS], ran.fills[FILL_COLUMNS])
    pd.testing.assert_frame_equal(tested.funding, ran.funding)
    pd.testing.assert_frame_equal(tested.equity, ran.equity)
    pd.testing.assert_series_equal(tested.stats, ran.stats)


def test_the_strategy_object_is_left_as_it_was(both: tuple[Result, Result, SmaCross]) -> None:
    tested, ran, strategy = both
    assert strategy == SmaCross(fast=5, slow=20, size=0.1)
    assert tested.params == ran.params == {"fast": 5, "slow": 20, "size": 0.1}


def test_backtest_is_deterministic_for_a_seed(sim_store: Path, both: tuple[Result, Result, SmaCross]) -> None:
    again = backtest(SmaCross(fast=5, slow=20, size=0.1), Store(sim_store), SYMBOL,
                     WINDOW_SINCE, WINDOW_UNTIL, seed=42)
    pd.testing.assert_frame_equal(again.fills, both[0].fills)
    pd.testing.assert_frame_equal(again.orders, both[0].orders)


@dataclass
class Recorder(SmaCross):
    """SmaCross that also writes down every event it is told, in order."""

    told: list[tuple[Any, ...]] = field(default_factory=list)

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        self.told.append(("bar", bar))
        super().on_bar(ctx, bar)

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.told.append(("trade", trade))

    def on_book(self, ctx: Context, book: Book) -> None:
        self.told.append(("book", book.time, book.bids[:5], book.asks[:5]))

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        self.told.append(("fill", fill.time, fill.side, fill.size, fill.price))


def _sim(since: str = WINDOW_SINCE) -> kfresearch.Client:
    return kfresearch.connect("sim", exchange=SimExchange(seed=42, clock=SimClock.fixed(since)))


def test_the_stream_driven_run_tells_the_strategy_what_the_backtest_does(sim_store: Path) -> None:
    """Bars built from the streamed trades, the bar's trades and the book at the close reach
    the strategy as the backtest's stored candles, trades and book snapshots do."""
    until = pd.Timestamp(WINDOW_SINCE) + pd.Timedelta(minutes=40)
    tested = backtest(Recorder(), Store(sim_store), SYMBOL, WINDOW_SINCE, until, seed=42)
    ran = run(Recorder(), _sim(), SYMBOL, until=until)
    told_tested = tested.strategy.told  # type: ignore[attr-defined]
    told_ran = ran.strategy.told  # type: ignore[attr-defined]
    assert sum(kind == "trade" for kind, *_ in told_ran) > 100
    assert sum(kind == "fill" for kind, *_ in told_ran) >= 2
    assert told_ran == told_tested
    pd.testing.assert_frame_equal(ran.candles[SYMBOL], tested.candles[SYMBOL],
                                  check_freq=False)


@pytest.mark.slow
def test_a_reconnect_loses_no_bar_doubles_none_and_resends_no_order(sim_store: Path) -> None:
    kf = _sim()
    # cut the connection three times while trades stream in
    kf.sim.add_fault(Fault("ws_drop", path="/ws/v1/trade", after=150, count=3))
    stream = kf.stream()
    ran = run(SmaCross(fast=5, slow=20, size=0.1), kf, SYMBOL, until=WINDOW_UNTIL, stream=stream)
    reconnects = stream.stats()["reconnects"]
    stream.close()
    tested = backtest(SmaCross(fast=5, slow=20, size=0.1), Store(sim_store), SYMBOL,
                      WINDOW_SINCE, WINDOW_UNTIL, seed=42)
    assert reconnects == 3
    pd.testing.assert_frame_equal(ran.candles[SYMBOL], tested.candles[SYMBOL], check_freq=False)
    pd.testing.assert_frame_equal(tested.fills[FILL_COLUMNS], ran.fills[FILL_COLUMNS])
    assert len(ran.orders) == len(tested.orders)
    assert len(kf.fills()) == len(ran.fills)  # every order reached the exchange once


@pytest.mark.slow
def test_arun_runs_in_the_background_of_an_event_loop(sim_store: Path,
                                                      both: tuple[Result, Result, SmaCross]) -> None:
    kf = _sim()
    account = kf.sim.keys[kf.sim.credentials("full").key].account_id
    ticks = 0

    async def notebook() -> tuple[Result, str, str]:
        nonlocal ticks
        handle = await arun(SmaCross(fast=5, slow=20, size=0.1), kf, SYMBOL, until=WINDOW_UNTIL)
        status = handle.status
        while not handle.done:  # the loop is free while the strategy runs
            ticks += 1
            await asyncio.sleep(0.001)
        return await handle.wait(), status, repr(handle)

    ran, status, shown = asyncio.run(notebook())
    assert status == "running"
    assert ticks > 10
    assert shown == "<StrategyRun PF_XBTUSD on sim: done>"
    pd.testing.assert_frame_equal(both[0].fills[FILL_COLUMNS], ran.fills[FILL_COLUMNS])
    end = int(ran.equity.index[-1].value // 10**6)
    assert kf.sim.engine.account(account, end).dms_trigger_ms is None  # disarmed


def test_a_background_run_stops_when_told_and_run_refuses_to_block_a_loop() -> None:
    kf = _sim()
    account = kf.sim.keys[kf.sim.credentials("full").key].account_id

    async def notebook() -> Result:
        with pytest.raises(StreamError, match="await arun"):
            run(SmaCross(), kf, SYMBOL, bars=1)
        handle = await arun(SmaCross(), kf, SYMBOL)  # no end: runs until stopped
        for _ in range(10_000):
            if len(handle.venue.seen[SYMBOL]) >= 5:
                break
            await asyncio.sleep(0.001)  # the loop is free for the stream meanwhile
        return await handle.stop()

    stopped = asyncio.run(notebook())
    assert len(stopped.equity) >= 5
    now = kf.sim.clock.now_ms()
    assert kf.sim.engine.account(account, now).dms_trigger_ms is None
    with pytest.raises(StreamError, match="in a script call run"):
        arun(SmaCross(), kf, SYMBOL)


@dataclass
class Tape(Strategy):
    """Keeps every public trade it is told of."""

    trades: list[Trade] = field(default_factory=list)

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.trades.append(trade)


def test_a_hole_in_the_streamed_tape_is_read_over_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reconnect whose trade snapshot (the last 100 trades) does not reach back: the bars
    over the hole, and their trades, come from REST; still each bar once, as the exchange's."""
    from kfresearch.strategy import live

    read: list[int] = []
    rest_bar = live.StreamVenue._rest_bar

    def counted(self: live.StreamVenue, symbol: str, end: int) -> Bar | None:
        read.append(end)
        return rest_bar(self, symbol, end)

    monkeypatch.setattr(live.StreamVenue, "_rest_bar", counted)
    kf = _sim()
    # 15-minute bars hold ~300 trades: the connection drops inside the second one
    kf.sim.add_fault(Fault("ws_drop", path="/ws/v1/trade", after=400, count=1))
    ran = run(Tape(), kf, SYMBOL, resolution="15m", until=WINDOW_UNTIL)
    assert read == [int(pd.Timestamp("2026-10-31T12:30Z").value // 10**6)]
    truth = kf.candles(SYMBOL, "15m", since=WINDOW_SINCE, until=WINDOW_UNTIL, progress=False)
    truth = truth[truth.index < pd.Timestamp(WINDOW_UNTIL)]
    pd.testing.assert_frame_equal(ran.candles[SYMBOL], truth[ran.candles[SYMBOL].columns],
                                  check_freq=False, check_like=True, check_exact=False)
    tape = kf.trades(SYMBOL, since=pd.Timestamp(WINDOW_SINCE) + pd.Timedelta(minutes=15),
                     until=WINDOW_UNTIL, progress=False)
    told = ran.strategy.trades  # type: ignore[attr-defined]
    assert [(t.time, t.price, t.size) for t in told] == list(
        zip(tape.index, tape["price"], tape["size"], strict=True))
