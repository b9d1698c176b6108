"""A :class:`~kfresearch.sim.source.MarketSource` that replays a history store.

The exchange engine runs on stored history exactly as it runs on the
synthetic or the live market, so a backtest fills orders by the rules of
``sim`` and ``demo``. What each question is answered from:

==================  ==========================================================================
question            answer (point in time: never a value from after ``t``)
==================  ==========================================================================
mark, index         close of the last complete ``resolution`` candle (``mark``, ``spot``)
last                price of the last stored trade at or before ``t`` (else the last
                    complete ``trade`` candle's close, else the mark)
trades, extremes    stored trades in the window; for mark and index, the highs and
                    lows of the candles that completed in ``(t0, t1]``
book                the last stored book snapshot at or before ``t`` (``store.record``)
                    not older than ``book_max_age``; otherwise a model book: the last
                    price straddled by ``spread_ticks`` ticks, then one level a tick,
                    each worth ``level_usd`` USD
funding             the stored hourly rate of the hour (``store.funding_rates``); none (0.0)
                    for an hour the symbol's stored data ends inside: the store keeps an
                    hour's rate once the hour is over, so the hour running when the data
                    was fetched has no rate yet, and a replay that stops inside it never
                    realises it (it accrues nothing and holds nothing back)
contracts           the simulator's contract catalog (tick, size step, margin tiers), for
                    the symbols that have stored data
==================  ==========================================================================

Data is read a block of UTC days at a time (a week by default; a few blocks
are kept), so memory stays bounded however long the replay. A question the
store cannot answer raises :class:`~kfresearch.errors.StoreError` saying what
to download.

Example
-------
>>> from kfresearch.store import Store
>>> store = Store("data/")                                      # doctest: +SKIP
>>> source = ReplaySource(store)                                # doctest: +SKIP
>>> engine = Engine(source, seed=1)                             # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from kfresearch.errors import StoreError
from kfresearch.sim.instruments import DAY_MS, HOUR_MS, InstrumentSpec, spec_for
from kfresearch.sim.source import CASH, Level, Signal, Trades

if TYPE_CHECKING:
    import pyarrow as pa

    from kfresearch.store import Store

__all__ = ["ReplaySource"]

_RESOLUTION_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": HOUR_MS}
_Arrays = dict[str, NDArray[Any]]
# kinds the store keeps month caches of (Kind.month_cache; a test holds the two equal):
# a replay reads them a calendar month at a time
_MONTHLY = frozenset({"candles", "funding_rates"})
# the columns of each kind a replay reads (the time index comes with each)
_COLUMNS: dict[str, tuple[str, ...]] = {
    "candles": ("open", "high", "low", "close"),
    "trades": ("price", "size", "side"),
    "book": ("side", "price", "size"),
    "funding_rates": ("funding_rate", "relative_funding_rate"),
}


def _arrays(kind: str, table: pa.Table) -> _Arrays:
    """A block's arrays from the store's Arrow table of it (``Store.read_arrow``).

    ``time`` in epoch ms (int64), each number column float64 (NaN where
    null), a trade's side as ``buy`` (True for "buy", False otherwise: no
    Python string per trade) and a book level's side as text. The values
    the same columns of ``Store.read``'s frame give (tests/sim/test_replay.py).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    stamps = table.column("time").combine_chunks()
    if stamps.type != pa.timestamp("ns", tz="UTC"):
        stamps = stamps.cast(pa.timestamp("ns", tz="UTC"))
    ns = stamps.view(pa.int64()).to_numpy(zero_copy_only=False)
    arrays: _Arrays = {"time": ns // 1_000_000}
    columns = _COLUMNS[kind]
    for column in columns:
        if column != "side":
            arrays[column] = np.array(table.column(column).to_numpy(), dtype=float)
    if "side" in columns:
        side = table.column("side")
        if kind == "trades":
            found = pc.equal(side.cast(pa.large_string()), "buy")
            arrays["buy"] = np.array(found.fill_null(False).to_numpy(), dtype=bool)
        else:
            arrays["side"] = np.array(side.to_numpy(), dtype=str)
    return arrays


class ReplaySource:
    """Prices from a :class:`~kfresearch.store.Store` (see the module docstring).

    Parameters
    ----------
    store
        The history store to read; nothing is downloaded.
    resolution
        Candles the mark and index are read from (``"1m"`` … ``"1h"``).
    spread_ticks, level_usd
        The model book used where no snapshot is stored: best bid and ask
        ``spread_ticks`` ticks apart around the last price, then one level a
        tick, each of ``level_usd`` USD.
    book_max_age
        Oldest stored book snapshot still used (a pandas-style duration).
    cache_days
        Days of each series kept in memory (at least two blocks of it).
    block_days
        Days of trades and book snapshots read from the store at once: a read
        costs a fixed few milliseconds (the series' manifest, the frame), so
        a replay that moves day by day reads a week at a time. Candles and
        funding rates, which the store keeps month caches of, are read a
        calendar month at a time (one cache file instead of a week's day
        files: ~10 ms a week before, ~1 ms now).
    """

    name = "replay"

    def __init__(
        self,
        store: Store,
        *,
        resolution: str = "1m",
        spread_ticks: int = 1,
        level_usd: float = 50_000.0,
        book_max_age: str = "5min",
        cache_days: int = 3,
        block_days: int = 7,
    ) -> None:
        if resolution not in _RESOLUTION_MS:
            raise ValueError(f"resolution must be one of {', '.join(_RESOLUTION_MS)}")
        if spread_ticks < 1 or not level_usd > 0:
            raise ValueError("spread_ticks must be at least 1 and level_usd positive")
        if block_days < 1:
            raise ValueError("block_days must be at least 1")
        self.store = store
        self.resolution = resolution
        self.step_ms = _RESOLUTION_MS[resolution]
        self.spread_ticks = spread_ticks
        self.level_usd = level_usd
        self.book_max_age_ms = int(pd.Timedelta(book_max_age).total_seconds() * 1000)
        # (kind, symbol, variant) -> day -> arrays, least recently used first: one cache per
        # series, so a month of candles does not push a week of trades out (or the reverse)
        self._cache: dict[tuple[str, str, str], OrderedDict[int, _Arrays]] = {}
        self._cache_days = cache_days
        # (symbol, tick type) -> (from ms, until ms, close): see _candle_close
        self._closes: dict[tuple[str, str], tuple[int, int, float]] = {}
        self.block_days = block_days
        self._data_end: dict[str, int] = {}
        self._symbols = sorted(
            {s.keys["symbol"].upper() for s in store.series() if "symbol" in s.keys}
        )

    def __repr__(self) -> str:
        return f"ReplaySource({self.store!r}, resolution={self.resolution!r})"

    # -- contracts -----------------------------------------------------------

    def instruments(self, now_ms: int) -> list[InstrumentSpec]:
        """The catalog's contracts that have stored data and are listed at ``now_ms``."""
        found = (self.instrument(s, now_ms) for s in self._symbols)
        return [spec for spec in found if spec is not None and spec.is_listed(now_ms)]

    def instrument(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        """The contract ``symbol`` if the store holds data for it, else None."""
        name = symbol.upper()
        return spec_for(name, now_ms) if name in self._symbols else None

    # -- stored series, a day at a time -----------------------------------------

    def _day(self, kind: str, symbol: str, variant: str, day: int) -> _Arrays:
        days = self._cache.get((kind, symbol, variant))
        if days is not None:
            found = days.get(day)
            if found is not None:
                days.move_to_end(day)
                return found
        self._read_block(kind, symbol, variant, day)
        return self._cache[(kind, symbol, variant)][day]

    def _block(self, kind: str, day: int) -> tuple[int, int]:
        """The days ``[first, last)`` read together with ``day`` (module docstring)."""
        if kind in _MONTHLY:
            month = np.datetime64(day, "D").astype("datetime64[M]")
            first = int(month.astype("datetime64[D]").astype(np.int64))
            return first, int((month + 1).astype("datetime64[D]").astype(np.int64))
        first = day - day % self.block_days
        return first, first + self.block_days

    def _read_block(self, kind: str, symbol: str, variant: str, day: int) -> None:
        """Read the block of days around ``day`` (:meth:`_block`) at once and cache each
        day's arrays."""
        first, last = self._block(kind, day)
        since = pd.Timestamp(first * DAY_MS, unit="ms", tz="UTC")
        until = pd.Timestamp(last * DAY_MS, unit="ms", tz="UTC")
        keys: dict[str, str] = {"symbol": symbol}
        if kind == "candles":
            keys |= {"tick_type": variant, "resolution": self.resolution}
        # only the columns used (a week of trades in about half the time without ids), as
        # Arrow columns made arrays without a frame between (~13 -> ~5 ms a week of trades)
        table = self.store.read_arrow(kind, since, until, columns=_COLUMNS[kind], **keys)
        arrays = _arrays(kind, table)
        bounds = np.searchsorted(
            arrays["time"], np.arange(first, last + 1) * DAY_MS, side="left"
        )
        days = self._cache.setdefault((kind, symbol, variant), OrderedDict())
        for i in range(last - first):
            a, b = int(bounds[i]), int(bounds[i + 1])
            days[first + i] = {name: values[a:b] for name, values in arrays.items()}
        while len(days) > max(self._cache_days, 2 * (last - first)):
            days.popitem(last=False)

    def _days(self, kind: str, symbol: str, variant: str, t0_ms: int, t1_ms: int) -> _Arrays:
        """The series over the days that ``[t0_ms, t1_ms]`` touches, concatenated."""
        parts = [
            self._day(kind, symbol, variant, day)
            for day in range(t0_ms // DAY_MS, t1_ms // DAY_MS + 1)
        ]
        if len(parts) == 1:
            return parts[0]
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def _candle_close(self, symbol: str, tick_type: str, t_ms: int) -> float | None:
        """Close of the last candle complete at ``t_ms`` (its start + step <= t), a day back.

        The answer is kept with the times it holds for (until the next
        candle completes, or the day of its rows ends): the engine asks for
        the same mark many times a minute, and minute after minute.
        """
        held = self._closes.get((symbol, tick_type))
        if held is not None and held[0] <= t_ms < held[1]:
            return held[2]
        step = self.step_ms
        for day in (t_ms // DAY_MS, t_ms // DAY_MS - 1):
            rows = self._day("candles", symbol, tick_type, day)
            times = rows["time"]
            i = int(times.searchsorted(t_ms - step, side="right")) - 1
            if i >= 0:
                close = float(rows["close"][i])
                following = int(times[i + 1]) if i + 1 < times.size else (day + 1) * DAY_MS
                self._closes[(symbol, tick_type)] = (int(times[i]) + step, following + step, close)
                return close
        return None

    def _missing(self, what: str, symbol: str, t_ms: int, how: str) -> StoreError:
        at = pd.Timestamp(t_ms, unit="ms", tz="UTC").isoformat()
        return StoreError(
            f"the store has no {what} for {symbol} at {at}: download it first, "
            f"e.g. {how}, or replay a range the store covers"
        )

    # -- prices ----------------------------------------------------------------

    def _perpetual_of(self, symbol: str) -> str:
        spec = spec_for(symbol)
        base = spec.base if spec is not None else symbol.upper().removeprefix("PF_")[:3]
        return f"PF_{base}USD"

    def mark_price(self, symbol: str, t_ms: int) -> float:
        """Close of the last complete mark candle at ``t_ms``."""
        name = symbol.upper()
        found = self._candle_close(name, "mark", t_ms)
        if found is None:
            how = f"store.candles({name!r}, {self.resolution!r}, tick_type='mark', since=…)"
            raise self._missing("mark price", name, t_ms, how)
        return found

    def mark_prices(self, symbol: str, times_ms: NDArray[np.int64]) -> NDArray[np.float64]:
        """:meth:`mark_price` at each of ``times_ms`` (sorted), NaN where the store has no mark.

        The same numbers as ``mark_price`` time by time (the close of the last
        candle complete at each time, a day back), read in one pass: the
        engine asks for an hour's minutes at once when nothing but the mark
        can change an account (:meth:`Lifecycle.quiet_until`). NaN rather
        than an error, so that the minute the store lacks is stepped, and
        complained about, where it comes.

        >>> source.mark_prices("PF_XBTUSD", np.array([t, t + 60_000]))    # doctest: +SKIP
        array([90012., 90020.])
        """
        name = symbol.upper()
        times = np.asarray(times_ms, dtype=np.int64)
        out = np.empty(times.size)
        if not times.size:
            return out
        step = self.step_ms
        first, last = int(times[0]) // DAY_MS, int(times[-1]) // DAY_MS
        for day in range(first, last + 1):
            a = 0 if day == first else int(times.searchsorted(day * DAY_MS))
            b = times.size if day == last else int(times.searchsorted((day + 1) * DAY_MS))
            rows = self._day("candles", name, "mark", day)
            i = rows["time"].searchsorted(times[a:b] - step, side="right") - 1
            # i rises with the time: those before the day's first candle come first, and
            # are looked for a day back, as _candle_close does
            found = int(i.searchsorted(0))
            out[a + found : b] = rows["close"][i[found:]]
            if found:
                rows = self._day("candles", name, "mark", day - 1)
                j = rows["time"].searchsorted(times[a : a + found] - step, side="right") - 1
                gone = int(j.searchsorted(0))  # no candle a day back either: NaN
                out[a : a + gone] = np.nan
                out[a + gone : a + found] = rows["close"][j[gone:]]
        return out

    def index_price(self, symbol: str, t_ms: int) -> float:
        """Close of the last complete spot candle at ``t_ms`` (the contract's, else its
        pair's linear perpetual's)."""
        name = symbol.upper()
        for candidate in dict.fromkeys((name, self._perpetual_of(name))):
            if candidate in self._symbols:
                found = self._candle_close(candidate, "spot", t_ms)
                if found is not None:
                    return found
        how = f"store.candles({name!r}, {self.resolution!r}, tick_type='spot', since=…)"
        raise self._missing("index price", name, t_ms, how)

    def last_price(self, symbol: str, t_ms: int) -> float:
        """Last stored trade at or before ``t_ms`` (a day back), else trade candles, else mark."""
        name = symbol.upper()
        for day in (t_ms // DAY_MS, t_ms // DAY_MS - 1):
            rows = self._day("trades", name, "", day)
            i = int(np.searchsorted(rows["time"], t_ms, side="right")) - 1
            if i >= 0:
                return float(rows["price"][i])
        found = self._candle_close(name, "trade", t_ms)
        return found if found is not None else self.mark_price(name, t_ms)

    def usd_value(self, currency: str, t_ms: int) -> float:
        """1.0 for USD and stablecoins; a coin at the index of its linear perpetual."""
        name = currency.upper()
        if name in CASH:
            return 1.0
        name = "XBT" if name == "BTC" else name
        perpetual = f"PF_{name}USD"
        if perpetual not in self._symbols:
            raise KeyError(f"no USD value for currency {currency!r}: the store has no {perpetual}")
        return self.index_price(perpetual, t_ms)

    # -- trades ------------------------------------------------------------------

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> Trades:
        """Stored public trades with ``start_ms <= time < end_ms``, oldest first."""
        if end_ms <= start_ms:
            return Trades.empty()
        rows = self._days("trades", symbol.upper(), "", start_ms, end_ms)
        a = int(np.searchsorted(rows["time"], start_ms, side="left"))
        b = int(np.searchsorted(rows["time"], end_ms, side="left"))
        return Trades(
            rows["time"][a:b],
            rows["price"][a:b],
            rows["size"][a:b],
            rows["buy"][a:b],
            np.arange(a, b, dtype=np.int64),
        )

    def extremes(
        self, symbol: str, signal: Signal, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        """(min, max) of ``signal`` in ``(t0_ms, t1_ms]``: trade prices for ``last``, the
        lows and highs of the candles that completed in the interval otherwise."""
        if t1_ms <= t0_ms:
            return None
        name = symbol.upper()
        if signal == "last":
            rows = self._days("trades", name, "", t0_ms, t1_ms)
            a = int(np.searchsorted(rows["time"], t0_ms, side="right"))
            b = int(np.searchsorted(rows["time"], t1_ms, side="right"))
            prices = rows["price"][a:b]
        else:
            tick_type = "mark" if signal == "mark" else "spot"
            if signal == "index" and name not in self._symbols:
                name = self._perpetual_of(name)
            rows = self._days("candles", name, tick_type, t0_ms - self.step_ms, t1_ms)
            ends = rows["time"] + self.step_ms
            a = int(np.searchsorted(ends, t0_ms, side="right"))
            b = int(np.searchsorted(ends, t1_ms, side="right"))
            if b <= a:
                return None
            return float(rows["low"][a:b].min()), float(rows["high"][a:b].max())
        if prices.size == 0:
            return None
        return float(prices.min()), float(prices.max())

    # -- book --------------------------------------------------------------------

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """The last stored snapshot at or before ``t_ms`` if recent, else the model book."""
        name = symbol.upper()
        rows = self._days("book", name, "", t_ms - self.book_max_age_ms, t_ms)
        i = int(np.searchsorted(rows["time"], t_ms, side="right")) - 1
        if i >= 0 and rows["time"][i] >= t_ms - self.book_max_age_ms:
            at = rows["time"] == rows["time"][i]
            levels = [
                (str(side), float(price), float(size))
                for side, price, size in zip(
                    rows["side"][at], rows["price"][at], rows["size"][at], strict=True
                )
            ]
            bids = sorted(((p, s) for side, p, s in levels if side == "bid"), reverse=True)
            asks = sorted((p, s) for side, p, s in levels if side == "ask")
            return bids[:depth], asks[:depth]
        return self._model_book(name, t_ms, depth)

    def _model_book(self, symbol: str, t_ms: int, depth: int) -> tuple[list[Level], list[Level]]:
        spec = self.instrument(symbol, t_ms) or spec_for(symbol)
        if spec is None:
            raise self._missing("contract", symbol, t_ms, f"store.trades({symbol!r}, since=…)")
        tick = spec.tick_size
        price = self.last_price(symbol, t_ms)
        best_bid = math.floor(price / tick - self.spread_ticks / 2 + 1e-9) * tick
        best_ask = best_bid + self.spread_ticks * tick
        step = spec.size_step
        price_decimals, size_decimals = spec.tick_decimals, max(spec.precision, 0)
        level_usd = self.level_usd
        fixed = level_usd / spec.contract_size if spec.is_inverse else None

        def levels(first: float, direction: int) -> list[Level]:
            out: list[Level] = []
            for i in range(depth):
                p = first + direction * i * tick
                contracts = fixed if fixed is not None else level_usd / p
                size = max(round(contracts / step), 1) * step
                out.append((round(p, price_decimals), round(size, size_decimals)))
            return out

        bids, asks = levels(best_bid, -1), levels(best_ask, 1)
        return bids, asks

    # -- funding -----------------------------------------------------------------

    def _stored_end(self, symbol: str) -> int:
        """Where the symbol's stored market data (all but funding) ends, epoch ms (read once)."""
        if symbol not in self._data_end:
            ends = [
                series.load().covered[-1][1]
                for series in self.store.series()
                if series.keys.get("symbol", "").upper() == symbol
                and series.kind != "funding_rates" and series.load().covered
            ]
            self._data_end[symbol] = max(ends, default=-1)
        return self._data_end[symbol]

    def funding_rate(self, symbol: str, hour_ms: int) -> tuple[float, float]:
        """(absolute, relative) stored rate of the hour starting at ``hour_ms``."""
        name = symbol.upper()
        rows = self._day("funding_rates", name, "", hour_ms // DAY_MS)
        i = int(np.searchsorted(rows["time"], hour_ms, side="left"))
        if i < rows["time"].size and rows["time"][i] == hour_ms:
            return float(rows["funding_rate"][i]), float(rows["relative_funding_rate"][i])
        if hour_ms <= self._stored_end(name) < hour_ms + HOUR_MS:
            return 0.0, 0.0  # the unfinished hour (module docstring): no funding yet
        how = f"store.funding_rates({name!r}, since=…)"
        raise self._missing("funding rate", name, hour_ms, how)
