"""The public trade tape of the synthetic market, one UTC day at a time.

Per minute ``1 + Poisson(λ)`` trades (λ follows the minute's volatility), at
uniform millisecond times, each at the best ask (buy) or best bid (sell) of
the book at that second, with lognormal sizes on the size step; takers lean
with the minute's move. Candles, 24 h statistics and ``last`` all come from
these trades, so candle volumes equal the trades in the same window. Times
are epoch milliseconds, prices USD, sizes contracts.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass

import numpy as np

from kfresearch.sim.market.book import Books, quote_ticks
from kfresearch.sim.market.noise import LRU, key
from kfresearch.sim.market.params import (
    ASSETS,
    DAY_MS,
    F64,
    I64,
    MINUTE_MS,
    MINUTES,
    NODES,
    NODES_PER_MINUTE,
    STEP_MS,
    Bool,
    liquidity,
    resolve,
    to_contracts,
)
from kfresearch.sim.market.paths import PricePaths
from kfresearch.sim.source import Trades

__all__ = ["TRADE_ID_STRIDE", "Stats24h", "Tape", "TradeDay", "Trades"]

TRADE_ID_STRIDE = 1_000_000
"""Trade ids are ``(day - opening day) × stride + rank in the day + 1``.

Increasing with time and starting at 1 on the contract's opening day, but not
contiguous across days: counting every trade since listing would mean
generating every day since listing.
"""


@dataclass(frozen=True)
class Stats24h:
    """Statistics of the public trades in ``(now - 24 h, now]``.

    ``open`` is the price of the last trade at or before ``now - 24 h``;
    ``volume`` is in contracts, ``volume_quote`` in USD (size × price for
    linear contracts, size × contract size for inverse ones), ``change_pct``
    in percent.
    """

    open: float
    high: float
    low: float
    last: float
    last_time_ms: int
    last_size: float
    volume: float
    volume_quote: float
    change_pct: float


@dataclass(frozen=True)
class TradeDay:
    """One contract's trades over one UTC day, with running sums for fast windows."""

    time: I64
    price: F64
    size: F64
    buy: Bool
    first_id: int  # trade id of row 0
    cum_size: F64  # (n + 1,) running sum of size, from 0
    cum_quote: F64  # (n + 1,) running sum of the USD notional, from 0


class Tape:
    """Every contract's public trades (see the module docstring)."""

    def __init__(
        self,
        seed: int,
        lock: threading.RLock,
        paths: PricePaths,
        books: Books,
        cache_days: int,
    ) -> None:
        self.seed = seed
        self._lock = lock
        self._paths = paths
        self._books = books
        self._trade_days: LRU[TradeDay] = LRU(max(8, cache_days // 2))

    def trade_day(self, symbol: str, day: int) -> TradeDay:
        """The trades of contract ``symbol`` (its own name) over UTC day ``day``."""
        with self._lock:
            return self._trade_days.get((symbol, day), lambda: self._make_trade_day(symbol, day))

    def price_range(self, symbol: str, t0_ms: int, t1_ms: int) -> tuple[float, float] | None:
        """(min, max) of public trade prices in ``(t0_ms, t1_ms]``; None if nothing printed."""
        if t1_ms <= t0_ms:
            return None
        spec = resolve(symbol)
        lo, hi = math.inf, -math.inf
        for day in range(int(t0_ms) // DAY_MS, int(t1_ms) // DAY_MS + 1):
            td = self.trade_day(spec.symbol, day)
            i0 = int(np.searchsorted(td.time, t0_ms, side="right"))
            i1 = int(np.searchsorted(td.time, t1_ms, side="right"))
            if i1 > i0:
                chunk = td.price[i0:i1]
                lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
        return (lo, hi) if hi >= lo else None

    def last_trade(self, symbol: str, t_ms: int) -> tuple[int, float, float, int] | None:
        """``(time ms, price, size, trade id)`` of the last trade at or before ``t_ms``.

        Looks back at most 3 days (None before a dated contract's first trade).
        """
        name = resolve(symbol).symbol
        day = int(t_ms) // DAY_MS
        for d in range(day, day - 3, -1):
            td = self.trade_day(name, d)
            i = int(np.searchsorted(td.time, t_ms, side="right")) - 1
            if i >= 0:
                return int(td.time[i]), float(td.price[i]), float(td.size[i]), td.first_id + i
        return None

    def trades(
        self,
        symbol: str,
        start_ms: int,
        end_ms: int,
        *,
        limit: int | None = None,
        descending: bool = False,
    ) -> Trades:
        """Public trades with ``start_ms <= time < end_ms``.

        Parameters
        ----------
        limit : int, optional
            At most this many, taken from the start (ascending) or from the
            end (``descending=True``, newest first).
        """
        spec = resolve(symbol)
        if end_ms <= start_ms or (limit is not None and limit <= 0):
            return Trades.empty()
        days = range(int(start_ms) // DAY_MS, (int(end_ms) - 1) // DAY_MS + 1)
        parts: list[tuple[TradeDay, int, int]] = []
        remaining = limit if limit is not None else -1
        for day in reversed(days) if descending else days:
            td = self.trade_day(spec.symbol, day)
            i0 = int(np.searchsorted(td.time, start_ms, side="left"))
            i1 = int(np.searchsorted(td.time, end_ms, side="left"))
            if remaining >= 0:
                if descending:
                    i0 = max(i0, i1 - remaining)
                else:
                    i1 = min(i1, i0 + remaining)
            if i1 > i0:
                parts.append((td, i0, i1))
                if remaining >= 0:
                    remaining -= i1 - i0
                    if remaining == 0:
                        break
        if not parts:
            return Trades.empty()
        step = -1 if descending else 1
        return Trades(
            time_ms=np.concatenate([td.time[a:b][::step] for td, a, b in parts]),
            price=np.concatenate([td.price[a:b][::step] for td, a, b in parts]),
            size=np.concatenate([td.size[a:b][::step] for td, a, b in parts]),
            buy=np.concatenate([td.buy[a:b][::step] for td, a, b in parts]),
            trade_id=np.concatenate(
                [
                    np.arange(td.first_id + a, td.first_id + b, dtype=np.int64)[::step]
                    for td, a, b in parts
                ]
            ),
        )

    def trade_uid(self, symbol: str, trade_id: int, role: str = "trade") -> str:
        """A stable UUID for a public trade (``role`` also names its maker/taker orders)."""
        digest = bytearray(
            hashlib.blake2b(
                repr((self.seed, role, symbol.upper(), int(trade_id))).encode(), digest_size=16
            ).digest()
        )
        # what str(uuid.UUID(bytes=digest, version=4)) gives, without its slow constructor
        digest[6] = digest[6] & 0x0F | 0x40
        digest[8] = digest[8] & 0x3F | 0x80
        h = digest.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def stats_24h(self, symbol: str, now_ms: int) -> Stats24h:
        """Statistics of the public trades in ``(now_ms - 24 h, now_ms]``."""
        spec = resolve(symbol)
        start = int(now_ms) - DAY_MS
        volume = quote = 0.0
        for day in (start // DAY_MS, int(now_ms) // DAY_MS):
            td = self.trade_day(spec.symbol, day)
            i0 = int(np.searchsorted(td.time, start, side="right"))
            i1 = int(np.searchsorted(td.time, now_ms, side="right"))
            if i1 > i0:
                volume += float(td.cum_size[i1] - td.cum_size[i0])
                quote += float(td.cum_quote[i1] - td.cum_quote[i0])
        last = self.last_trade(spec.symbol, now_ms)
        if last is None:
            mark = self._paths.mark(spec.symbol, now_ms)
            return Stats24h(mark, mark, mark, mark, int(now_ms), 0.0, 0.0, 0.0, 0.0)
        before = self.last_trade(spec.symbol, start)
        window = self.price_range(spec.symbol, start, now_ms)
        first = self.trades(spec.symbol, start + 1, int(now_ms) + 1, limit=1)
        if before is not None:
            open_ = before[1]
        else:
            open_ = float(first.price[0]) if len(first) else last[1]
        low, high = window if window is not None else (last[1], last[1])
        return Stats24h(
            open=open_,
            high=high,
            low=low,
            last=last[1],
            last_time_ms=last[0],
            last_size=last[2],
            volume=round(volume, max(spec.precision, 0)),
            volume_quote=quote,
            change_pct=(last[1] / open_ - 1.0) * 100.0 if open_ else 0.0,
        )

    def _make_trade_day(self, symbol: str, day: int) -> TradeDay:
        spec = resolve(symbol)
        liq = liquidity(spec)
        index = self._paths.index_day(spec.base, day)
        mark = self._paths.path_day(spec.symbol, day).mark
        rng = np.random.default_rng(key(self.seed, "trades", spec.symbol, day))
        # busier when volatile; at least one trade a minute keeps candles continuous
        rate = liq.trades_per_minute * index.sigma**0.8 * math.sqrt(index.regime)
        counts = 1 + rng.poisson(rate)
        n = int(counts.sum())
        minute = np.repeat(np.arange(MINUTES, dtype=np.int64), counts)
        times = np.sort(day * DAY_MS + minute * MINUTE_MS + rng.integers(0, MINUTE_MS, n))
        u_side = rng.random(n)
        z_size = rng.standard_normal(n)
        # takers lean with the minute's move
        start_nodes = index.nodes[: NODES + 1 : NODES_PER_MINUTE]
        minute_ret = np.log(start_nodes[1:] / start_nodes[:-1])
        typical = ASSETS[spec.base].daily_vol * index.regime * index.sigma / math.sqrt(MINUTES)
        p_buy = 0.5 + 0.2 * np.tanh(minute_ret / typical)
        buy = u_side < p_buy[minute]
        if spec.last_trading_time_ms is not None:
            keep = (times >= spec.opening_date_ms) & (times < spec.last_trading_time_ms)
            times, buy, z_size = times[keep], buy[keep], z_size[keep]
        node = (times - day * DAY_MS) // STEP_MS
        spread = self._books.spread_ticks(spec.symbol, times // 1000)
        bid, ask = quote_ticks(mark[node], spec.tick_size, spread)
        price = np.round(np.where(buy, ask, bid) * spec.tick_size, spec.tick_decimals)
        size = to_contracts(spec, liq.trade_usd * np.exp(1.1 * z_size), price)
        notional = size * spec.contract_size if spec.is_inverse else size * price
        opening_day = spec.opening_date_ms // DAY_MS
        return TradeDay(
            time=times,
            price=price,
            size=size,
            buy=buy,
            first_id=(day - opening_day) * TRADE_ID_STRIDE + 1,
            cum_size=np.concatenate([[0.0], np.cumsum(size)]),
            cum_quote=np.concatenate([[0.0], np.cumsum(notional)]),
        )
