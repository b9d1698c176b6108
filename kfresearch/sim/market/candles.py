"""OHLCV candles of the synthetic market, built from its trades and its 5 s mark/index grid.

1-minute ``trade`` candles are built from the public trades of that minute;
``mark``/``spot`` ones from the 5 s mark/index grid (volume 0). Coarser
resolutions aggregate 1-minute candles; ``1w`` buckets start on Monday 00:00
UTC. The bucket holding "now" is built from what printed up to now. Times are
epoch milliseconds, prices USD, volumes contracts.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kfresearch.sim.instruments import HOUR_MS, InstrumentSpec
from kfresearch.sim.market.noise import LRU
from kfresearch.sim.market.params import (
    DAY_MS,
    F64,
    I64,
    MINUTE_MS,
    MINUTES,
    NODES,
    NODES_PER_MINUTE,
    STEP_MS,
    Bool,
)
from kfresearch.sim.market.paths import PricePaths
from kfresearch.sim.market.tape import Tape

__all__ = ["RESOLUTIONS", "WEEK_OFFSET_MS", "CandleMaker", "Candles", "TickType"]

TickType = Literal["trade", "mark", "spot"]

RESOLUTIONS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "4h": 4 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "1w": 7 * DAY_MS,
}
"""Chart resolutions in milliseconds. ``1w`` buckets start on Monday 00:00 UTC."""

WEEK_OFFSET_MS = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch


@dataclass(frozen=True)
class Candles:
    """OHLCV bars: ``time_ms`` (int64, bucket start) and float64 OHLC and volume.

    Volume is in contracts for ``trade`` candles and 0 for ``mark``/``spot``.
    """

    time_ms: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __len__(self) -> int:
        return int(self.time_ms.shape[0])


@dataclass(frozen=True)
class Bars:
    """1-minute bars of one series over a run of minutes."""

    open: F64  # (MINUTES,), NaN where ``has`` is False
    high: F64
    low: F64
    close: F64
    volume: F64
    has: Bool


_EMPTY_CANDLES = Candles(
    np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.empty(0)
)


def _slice(c: Candles, a: int, b: int) -> Candles:
    return Candles(
        c.time_ms[a:b], c.open[a:b], c.high[a:b], c.low[a:b], c.close[a:b], c.volume[a:b]
    )


class CandleMaker:
    """Candles of every series (see the module docstring)."""

    def __init__(
        self, lock: threading.RLock, paths: PricePaths, tape: Tape, cache_days: int
    ) -> None:
        self._lock = lock
        self._paths = paths
        self._tape = tape
        self._bars: LRU[Bars] = LRU(8 * cache_days)

    def candles(
        self,
        spec: InstrumentSpec,
        tick_type: TickType,
        resolution: str,
        *,
        first: int,
        last: int,
        from_ms: int | None,
        to_ms: int | None,
        limit: int,
    ) -> tuple[Candles, bool]:
        """Candles of ``spec`` whose data runs from ``first`` to ``last`` (epoch ms, inclusive).

        See :meth:`kfresearch.sim.market.SyntheticMarket.candles`.
        """
        res = RESOLUTIONS[resolution]
        offset = WEEK_OFFSET_MS if resolution == "1w" else 0
        limit = max(0, int(limit))

        def floor_b(t: int) -> int:
            return (t - offset) // res * res + offset

        empty = _slice(_EMPTY_CANDLES, 0, 0)
        if last < first:
            return empty, False
        b_first, b_last = floor_b(first), floor_b(last)
        hi = b_last if to_ms is None else min(b_last, floor_b(int(to_ms)))
        if from_ms is not None:
            lo = max(b_first, floor_b(int(from_ms) + res - 1))  # first start >= from
            if lo > hi:
                return empty, False
            total = (hi - lo) // res + 1
            sel_lo, sel_hi = lo, min(hi, lo + limit * res)
        else:
            if hi < b_first:
                return empty, False
            sel_lo, sel_hi = max(b_first, hi - limit * res), hi
        m_lo = max(sel_lo, first // MINUTE_MS * MINUTE_MS)
        m_hi = min(sel_hi + res, last // MINUTE_MS * MINUTE_MS + MINUTE_MS)
        bars = self._minute_range(spec, tick_type, m_lo, m_hi, last)
        out = self._aggregate(
            bars, m_lo, res, offset, spec.precision if tick_type == "trade" else 0
        )
        n = len(out)
        if from_ms is not None:
            more = n > limit or total > limit + 1
            out = _slice(out, 0, min(n, limit))
        else:
            more = n > limit or sel_lo > b_first
            out = _slice(out, max(0, n - limit), n)
        return out, bool(more)

    def _minute_range(
        self, spec: InstrumentSpec, tick_type: TickType, m_lo: int, m_hi: int, last_ms: int
    ) -> Bars:
        """1-minute bars for minutes ``[m_lo, m_hi)``; the minute of ``last_ms`` only up to it."""
        parts: list[Bars] = []
        for day in range(m_lo // DAY_MS, (m_hi - 1) // DAY_MS + 1):
            bars = self._day_bars(spec, tick_type, day)
            a = max(m_lo - day * DAY_MS, 0) // MINUTE_MS
            b = min(m_hi - day * DAY_MS, DAY_MS) // MINUTE_MS
            parts.append(
                Bars(
                    bars.open[a:b],
                    bars.high[a:b],
                    bars.low[a:b],
                    bars.close[a:b],
                    bars.volume[a:b],
                    bars.has[a:b],
                )
            )
        # concatenate copies: the cached day arrays are never written to
        merged = Bars(
            np.concatenate([p.open for p in parts]),
            np.concatenate([p.high for p in parts]),
            np.concatenate([p.low for p in parts]),
            np.concatenate([p.close for p in parts]),
            np.concatenate([p.volume for p in parts]),
            np.concatenate([p.has for p in parts]),
        )
        current = last_ms // MINUTE_MS * MINUTE_MS
        if m_lo <= current < m_hi and last_ms < current + MINUTE_MS - 1:
            i = (current - m_lo) // MINUTE_MS
            o, h, lo, c, v = self._partial_minute(spec, tick_type, current, last_ms)
            merged.open[i], merged.high[i], merged.low[i], merged.close[i] = o, h, lo, c
            merged.volume[i] = v
            merged.has[i] = not math.isnan(o)
        return merged

    def _partial_minute(
        self, spec: InstrumentSpec, tick_type: TickType, minute_ms: int, last_ms: int
    ) -> tuple[float, float, float, float, float]:
        if tick_type == "trade":
            t = self._tape.trades(spec.symbol, minute_ms, last_ms + 1)
            if not len(t):
                return math.nan, math.nan, math.nan, math.nan, 0.0
            volume = round(float(t.size.sum()), max(spec.precision, 0))
            return (
                float(t.price[0]),
                float(t.price.max()),
                float(t.price.min()),
                float(t.price[-1]),
                volume,
            )
        day, first = divmod(minute_ms // STEP_MS, NODES)
        count = (last_ms - minute_ms) // STEP_MS + 1
        if tick_type == "mark":
            nodes = self._paths.path_day(spec.symbol, day).mark[first : first + count]
        else:
            nodes = self._paths.index_day(spec.base, day).nodes[first : first + count]
        return float(nodes[0]), float(nodes.max()), float(nodes.min()), float(nodes[-1]), 0.0

    @staticmethod
    def _aggregate(bars: Bars, m_lo: int, res: int, offset: int, precision: int) -> Candles:
        keep = np.flatnonzero(bars.has)
        times = m_lo + keep.astype(np.int64) * MINUTE_MS
        if keep.shape[0] == 0:
            return Candles(times, *(np.empty(0) for _ in range(5)))
        if res == MINUTE_MS:
            return Candles(
                times,
                bars.open[keep],
                bars.high[keep],
                bars.low[keep],
                bars.close[keep],
                bars.volume[keep],
            )
        bucket = (times - offset) // res * res + offset
        starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
        ends = np.concatenate([starts[1:], [keep.shape[0]]]) - 1
        volume: F64 = np.add.reduceat(bars.volume[keep], starts).astype(np.float64)
        return Candles(
            bucket[starts],
            bars.open[keep][starts],
            np.maximum.reduceat(bars.high[keep], starts),
            np.minimum.reduceat(bars.low[keep], starts),
            bars.close[keep][ends],
            np.round(volume, max(precision, 0)).astype(np.float64),
        )

    def _day_bars(self, spec: InstrumentSpec, tick_type: TickType, day: int) -> Bars:
        name = spec.base if tick_type == "spot" else spec.symbol
        with self._lock:
            return self._bars.get(
                (tick_type, name, day), lambda: self._make_day_bars(spec, tick_type, day)
            )

    def _make_day_bars(self, spec: InstrumentSpec, tick_type: TickType, day: int) -> Bars:
        if tick_type != "trade":
            if tick_type == "mark":
                nodes = self._paths.path_day(spec.symbol, day).mark
            else:
                nodes = self._paths.index_day(spec.base, day).nodes
            grid = nodes[:NODES].reshape(MINUTES, NODES_PER_MINUTE)
            return Bars(
                grid[:, 0].copy(),
                grid.max(axis=1),
                grid.min(axis=1),
                grid[:, -1].copy(),
                np.zeros(MINUTES),
                np.ones(MINUTES, bool),
            )
        td = self._tape.trade_day(spec.symbol, day)
        edges = day * DAY_MS + np.arange(MINUTES + 1, dtype=np.int64) * MINUTE_MS
        starts = np.searchsorted(td.time, edges, side="left")
        has = starts[1:] > starts[:-1]
        nonempty = np.flatnonzero(has)
        out = [np.full(MINUTES, np.nan) for _ in range(4)]
        if nonempty.shape[0]:
            first, after = starts[:-1][nonempty], starts[1:][nonempty]
            out[0][nonempty] = td.price[first]
            out[1][nonempty] = np.maximum.reduceat(td.price, first)
            out[2][nonempty] = np.minimum.reduceat(td.price, first)
            out[3][nonempty] = td.price[after - 1]
        volume = np.round(
            td.cum_size[starts[1:]] - td.cum_size[starts[:-1]], max(spec.precision, 0)
        )
        return Bars(out[0], out[1], out[2], out[3], volume, has)
