"""``backtest``: a strategy on stored history, through the simulator's own exchange engine.

The backtest builds an in-process exchange whose prices come from the
history store (:class:`~kfresearch.sim.replay.ReplaySource`) and whose clock
the backtest moves, bar close by bar close; the strategy trades it through
an ordinary :class:`~kfresearch.Client` (whose requests skip HTTP,
:mod:`kfresearch.strategy.direct`). Orders are checked by the same
order API, judged, matched, margined, charged fees and funding and
liquidated by the same engine as ``sim`` and ``demo``: one set of rules.

What fills where (the replay source's rules): a market order walks the
stored book snapshot at that time (else a model book around the last trade);
a resting limit order fills as maker when stored trades printed through it;
stops fire on the stored mark, index or trade prices; funding is the stored
hourly rate; liquidation uses the stored mark.

The exchange's rate limits run on the replayed clock: a strategy that would
be throttled live is throttled here too (:class:`~kfresearch.RateLimitError`).

Example
-------
>>> from kfresearch.store import Store
>>> store = Store("data/")                                                  # doctest: +SKIP
>>> result = backtest(SmaCross(fast=20, slow=60), store, "PF_XBTUSD",
...                   since="2026-10-01", until="2026-10-08")               # doctest: +SKIP
>>> result.stats["net_pnl_usd"]                                             # doctest: +SKIP
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kfresearch.errors import StoreError, ValidationError
from kfresearch.strategy.driver import (
    STEP_MS,
    History,
    StrategyLike,
    check_symbols,
    drive,
    usd_equity,
)
from kfresearch.strategy.events import Bar, Book, Trade
from kfresearch.strategy.result import Result, build_result
from kfresearch.strategy.taps import EngineTap, Tap

if TYPE_CHECKING:
    from kfresearch.client import Client
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.store import Store
    from kfresearch.timeparse import TimeLike

__all__ = ["ReplayVenue", "backtest"]

_GC_YOUNG = 70_000  # allocations between young-generation collections while replaying


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


class ReplayVenue:
    """A backtest's exchange: stored prices, a clock moved bar by bar (module docstring)."""

    mode = "backtest"
    lazy = True  # False: advance the engine at every bar (the reference the tests compare to)
    # False: no history() (the context keeps bars as they come: the reference of the tests)
    known = True

    def __init__(
        self,
        store: Store,
        symbols: tuple[str, ...],
        start_ms: int,
        end_ms: int,
        *,
        resolution: str,
        seed: int,
    ) -> None:
        from kfresearch.ratelimit import RateLimiter
        from kfresearch.sim.clock import SimClock
        from kfresearch.sim.exchange import SimExchange
        from kfresearch.sim.replay import ReplaySource
        from kfresearch.strategy.direct import DirectClient

        self.symbols = symbols
        self.step_ms = STEP_MS[resolution]
        self.candles = {s: self._read(store, s, start_ms, end_ms, resolution) for s in symbols}
        self._bars = {s: _columns(frame, self.step_ms) for s, frame in self.candles.items()}
        self.source = ReplaySource(store, resolution=resolution)
        clock = SimClock("fixed", start_ms)

        def replayed_seconds() -> float:
            return clock.now_ms() / 1000

        self.exchange: SimExchange = SimExchange(
            seed=seed, clock=clock, market=self.source, rate_clock=replayed_seconds
        )
        self._clock, self._engine = clock, self.exchange.engine  # read at every bar
        # the exchange limits the rate on the replayed clock; the client must not wait
        # in real time for a clock that only moves when the backtest moves it. Its requests
        # skip HTTP (kfresearch.strategy.direct): the same requests, checks and answers.
        self.kf: Client = DirectClient(
            "sim", exchange=self.exchange, limiter=RateLimiter.unlimited()
        )
        # nothing else moves this exchange and its memory ledger keeps the account for good
        self.tap: Tap = EngineTap.for_client(self.kf, steady=True)
        # lazy stepping (_move_to): the engine is advanced when a bar's end reaches _due,
        # which holds while no unit of work has begun since it was asked (_units_seen)
        self._horizon = end_ms  # the last bar's end, once steps() has read the bars
        self._due = start_ms
        self._units_seen = -1

    @staticmethod
    def _read(
        store: Store, symbol: str, start_ms: int, end_ms: int, resolution: str
    ) -> pd.DataFrame:
        frame = store.read("candles", _stamp(start_ms), _stamp(end_ms), symbol=symbol,
                           tick_type="trade", resolution=resolution)
        if frame.empty:
            raise StoreError(
                f"the store has no {resolution} trade candles of {symbol} between "
                f"{_stamp(start_ms):%Y-%m-%d %H:%M} and {_stamp(end_ms):%Y-%m-%d %H:%M}: download "
                f"them first, e.g. store.download('candles', {symbol!r}, since=..., until=..., "
                f"resolution={resolution!r})"
            )
        frame.attrs.update(symbol=symbol, resolution=resolution, tick_type="trade", env="backtest")
        return frame

    def now_ms(self) -> int:
        return self.exchange.clock.now_ms()

    def start_equity(self) -> float:
        return usd_equity(self.kf)

    def history(self) -> dict[str, History] | None:
        """Every bar :meth:`steps` will hand over, per symbol, in order (None when
        ``known`` is off): the context reads its recent bars from these arrays
        (:class:`~kfresearch.strategy.driver.History`)."""
        return self._bars if self.known else None

    def steps(self) -> Iterator[tuple[int, list[Bar]]]:
        step = self.step_ms
        if len(self._bars) == 1:
            # one symbol: every bar closes a step of its own (the common case, kept tight)
            ((symbol, known),) = self._bars.items()
            ends = known.end_ms.tolist()
            self._horizon = ends[-1]
            # the bars made in C: tuple.__new__ over the zipped columns (rows of one
            # array, so of one length), not NamedTuple's Python-level __new__ (the same Bar)
            made: Iterator[Bar] = map(tuple.__new__, repeat(Bar), zip(
                repeat(symbol), known.start_ms.tolist(), ends,
                *(row.tolist() for row in known.columns), strict=False))
            move = self._move_to
            for end, bar in zip(ends, made, strict=True):
                move(end)
                yield end, [bar]
            return
        columns: dict[str, tuple[list[Any], ...]] = {
            symbol: (known.start_ms.tolist(), *(row.tolist() for row in known.columns))
            for symbol, known in self._bars.items()
        }
        ends = np.unique(np.concatenate([np.asarray(c[0], dtype=np.int64)
                                         for c in columns.values()])) + step
        cursor = dict.fromkeys(columns, 0)
        self._horizon = int(ends[-1])
        for end in ends.tolist():
            bars: list[Bar] = []
            for symbol, (starts, o, h, low, c, v) in columns.items():
                i = cursor[symbol]
                if i < len(starts) and starts[i] + step == end:
                    bars.append(Bar(symbol, starts[i], end, o[i], h[i], low[i], c[i], v[i]))
                    cursor[symbol] = i + 1
            self._move_to(end)
            yield end, bars

    def _move_to(self, end: int) -> None:
        """Move the clock to ``end``, and the engine with it when it has work to do.

        The engine is advanced only once its time comes
        (:meth:`~kfresearch.sim.engine.Engine.quiet_until`: the next minute
        while an order is open, else the hour's funding, the minute a mark
        leaves its liquidation band, or never while nothing is held); until
        then a step would only accrue funding, which nothing outside the
        engine reads before the engine catches up, minute by minute, at the
        next request or at that time. The strategy sees every fill,
        liquidation and funding payment at the bar it sees them stepping
        every bar (``lazy = False``), and the same answers.
        """
        clock = self._clock
        if end <= clock.now_ms():
            return
        clock.move_to(end)  # the backtest's one thread moves this clock: no lock
        engine = self._engine
        if self.lazy:
            if engine.units_begun != self._units_seen:
                # a request ran since the engine was asked: it may hold something new
                self._due = engine.quiet_until(self._horizon)
                self._units_seen = engine.units_begun
            if end < self._due:
                return
        if any(a.positions or a.open_orders or a.dms_trigger_ms is not None
               for a in engine.accounts.values()):
            engine.advance(end)  # nothing else uses this exchange: no lock needed
        if self.lazy:
            self._due = engine.quiet_until(self._horizon)
            self._units_seen = engine.units_begun

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> list[Trade]:
        found = self.source.trades(symbol, start_ms, end_ms)
        return [
            Trade(symbol, _stamp(int(t)), float(p), float(s), "buy" if b else "sell")
            for t, p, s, b in zip(found.time_ms, found.price, found.size, found.buy, strict=True)
        ]

    def book(self, symbol: str, t_ms: int) -> Book:
        bids, asks = self.source.book(symbol, t_ms)
        return Book(symbol, _stamp(t_ms), tuple(bids), tuple(asks))


def _columns(frame: pd.DataFrame, step_ms: int) -> History:
    """A candles frame's bars as arrays: starts and ends (epoch ms), the five value rows."""
    starts = pd.DatetimeIndex(frame.index).as_unit("ms").asi8.copy()
    rows = np.asarray([frame[c].to_numpy(dtype=float) for c in
                       ("open", "high", "low", "close", "volume")], dtype=float)
    rows.flags.writeable = False
    starts.flags.writeable = False
    ends = starts + step_ms
    ends.flags.writeable = False
    return History(starts, ends, rows)


def backtest(
    strategy: StrategyLike,
    store: Store,
    symbols: str | list[str] | tuple[str, ...],
    since: TimeLike,
    until: TimeLike,
    *,
    resolution: str = "1m",
    seed: int = 0,
    keep: int = 10_000,
) -> Result:
    """Replay stored history through the simulator's exchange engine and trade ``strategy`` on it.

    Parameters
    ----------
    strategy : Strategy or function
        A :class:`~kfresearch.strategy.Strategy` (a copy is run) or ``f(ctx, bar)``.
    store : Store
        Holds the symbols' trade candles at ``resolution`` (the bars), and what
        the replay source prices from: ``mark`` and ``spot`` candles, trades,
        hourly funding rates, and book snapshots if recorded.
    symbols : str or list of str
        Linear contracts (``"PF_XBTUSD"``).
    since, until : TimeLike
        The window ``[since, until)`` of bar starts (UTC).
    resolution : {"1m", "5m", "15m", "30m", "1h"}
        Bar length; the engine's prices are read at the same resolution.
    seed : int
        Seed of the exchange's identifiers: one seed, one answer.
    keep : int
        Bars of history kept per symbol for ``ctx.bars``/``ctx.closes``.

    Returns
    -------
    Result
        Frames (equity, positions, fills, orders, funding, fees), ``stats``
        and charts.

    Raises
    ------
    StoreError
        The store lacks the bars or a price the engine needs: the message says
        what to download.
    ValidationError
        A bad resolution, window or symbol.
    """
    from kfresearch.timeparse import to_epoch_ms

    if resolution not in STEP_MS:
        raise ValidationError("resolution", resolution, f"use one of {', '.join(STEP_MS)}")
    names = check_symbols(symbols)
    start, end = to_epoch_ms(since), to_epoch_ms(until)
    if end <= start:
        raise ValidationError("until", until, "until must be later than since")
    venue = ReplayVenue(store, names, start, end, resolution=resolution, seed=seed)
    # a replay makes short-lived objects by the million (bars, requests, answers) and keeps
    # few: the collector's youngest generation is scanned a hundredth as often meanwhile
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], _GC_YOUNG), *threshold[1:])
    try:
        ctx, player = drive(strategy, venue, names, keep=keep)
    finally:
        gc.set_threshold(*threshold)
    return build_result(ctx, player, venue.candles, "backtest")
