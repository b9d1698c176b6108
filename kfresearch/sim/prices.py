"""The engine's view of its market: the contracts it has seen and the funding rates it charged.

Every price the engine reads goes through :class:`Prices`, which remembers
two things the market may not repeat: the contract of every order or
position (so an expired contract can still be valued and settled), and the
funding rate of each hour once it was used (an hour's rate is fixed once
funding was charged at it). Times are epoch milliseconds, prices USD.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kfresearch.sim.instruments import DAY_MS, InstrumentSpec
from kfresearch.sim.source import Level, MarketSource, Signal, Trades

__all__ = ["MINUTE_MS", "Prices"]

MINUTE_MS = 60_000


def _first_outside(marks: NDArray[np.float64], low: float, high: float) -> int:
    """Index of the first of ``marks`` not in ``[low, high]`` (NaN is not); their count if none."""
    inside = (low <= marks) & (marks <= high)
    first = int(inside.argmin())  # the first False; 0 when all are True
    return len(marks) if inside[first] else first


class Prices:
    """Prices and contracts for the engine, read from ``market`` (see the module docstring)."""

    def __init__(self, market: MarketSource) -> None:
        self.market = market
        self._specs: dict[str, InstrumentSpec] = {}
        self._funding: dict[tuple[str, int], float] = {}
        self.latest_ms = 0
        # symbol -> (time, mark) last read: an order's margin checks read it several times
        self._marks: dict[str, tuple[int, float]] = {}
        # symbol -> (day, its minutes' marks) from mark_prices: see first_minute_outside
        self._minute_marks: dict[str, tuple[int, NDArray[np.float64]]] = {}

    def spec(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        """The contract ``symbol`` if it can be traded at ``now_ms`` (dated ones until expiry)."""
        found = self.market.instrument(symbol, now_ms)
        if found is None:
            return None
        self._specs[found.symbol] = found
        expiry = found.last_trading_time_ms
        return None if expiry is not None and now_ms >= expiry else found

    def known_spec(self, symbol: str) -> InstrumentSpec:
        """The contract of an order or position, even after it expired (it was looked up then).

        An order or position kept from an earlier session (a paper account on
        disk) was looked up by another process: its contract is asked of the
        market as listed at the latest time this engine saw.
        """
        found = self._specs.get(symbol)
        if found is None:
            listed = self.market.instrument(symbol, self.latest_ms)
            if listed is None:
                raise KeyError(symbol)
            found = self._specs[symbol] = listed
        return found

    def moved_to(self, now_ms: int) -> None:
        """Note that the engine's clock reached ``now_ms`` (for :meth:`known_spec`)."""
        self.latest_ms = max(self.latest_ms, now_ms)

    def mark(self, symbol: str, t_ms: int) -> float:
        """Mark price at ``t_ms`` (read once per symbol and time within a unit of work).

        A minute of the day whose minutes :meth:`first_minute_outside` keeps is
        read there (a replay's marks: the same numbers as ``mark_price``; a
        minute without one is asked of the market, which says what is missing).
        """
        held = self._marks.get(symbol)
        if held is not None and held[0] == t_ms:
            return held[1]
        day = self._minute_marks.get(symbol)
        if day is not None and not t_ms % MINUTE_MS and t_ms // DAY_MS == day[0]:
            value = float(day[1][(t_ms - day[0] * DAY_MS) // MINUTE_MS])
            if value == value:  # not NaN
                self._marks[symbol] = (t_ms, value)
                return value
        value = self.market.mark_price(symbol, t_ms)
        self._marks[symbol] = (t_ms, value)
        return value

    def first_mark_outside(
        self, symbol: str, low: float, high: float, times_ms: NDArray[np.int64]
    ) -> int:
        """Index of the first of ``times_ms`` (sorted) whose mark is not in ``[low, high]``;
        ``len(times_ms)`` if none is.

        One read for all the times when the market has ``mark_prices(symbol,
        times_ms)`` (the replay: :meth:`ReplaySource.mark_prices`, NaN counted
        as outside), else :meth:`MarketSource.mark_price` time by time up to
        the first one outside. The marks are not held (:meth:`mark` holds one).

        >>> prices.first_mark_outside("PF_XBTUSD", 85_000.0, 95_000.0, times)  # doctest: +SKIP
        60
        """
        read = getattr(self.market, "mark_prices", None)
        if read is not None and len(times_ms):
            return _first_outside(read(symbol, times_ms), low, high)
        for i, t in enumerate(times_ms.tolist()):
            if not low <= self.market.mark_price(symbol, t) <= high:
                return i
        return len(times_ms)

    def first_minute_outside(
        self, symbol: str, low: float, high: float, first_ms: int, count: int
    ) -> int:
        """:meth:`first_mark_outside` at the ``count`` times ``first_ms``, ``first_ms + 1
        min``, ... (the same answer).

        A market with ``mark_prices`` is a replay of history, whose marks do not
        change: it is read a day of minutes at a time (the day's minute times),
        and the day is kept per symbol (the engine looks at an hour's minutes
        after every hour and every order). Minutes off the minute, or across
        midnight, are read as :meth:`first_mark_outside` reads them.

        >>> prices.first_minute_outside("PF_XBTUSD", 85_000.0, 95_000.0, t, 59)  # doctest: +SKIP
        59
        """
        day = first_ms // DAY_MS
        read = getattr(self.market, "mark_prices", None)
        if (
            read is None
            or count <= 0
            or first_ms % MINUTE_MS
            or (first_ms + (count - 1) * MINUTE_MS) // DAY_MS != day
        ):
            times = first_ms + MINUTE_MS * np.arange(max(count, 0), dtype=np.int64)
            return self.first_mark_outside(symbol, low, high, times)
        held = self._minute_marks.get(symbol)
        if held is None or held[0] != day:
            minutes = np.arange(day * DAY_MS, (day + 1) * DAY_MS, MINUTE_MS, dtype=np.int64)
            held = self._minute_marks[symbol] = (day, read(symbol, minutes))
        i = (first_ms - day * DAY_MS) // MINUTE_MS
        return _first_outside(held[1][i : i + count], low, high)

    def forget(self) -> None:
        """Drop the marks held (a unit of work begins or ends: the market may have moved)."""
        self._marks.clear()

    def index(self, symbol: str, t_ms: int) -> float:
        """Spot index of the contract's underlying at ``t_ms``."""
        return self.market.index_price(symbol, t_ms)

    def signal(self, symbol: str, signal: str, t_ms: int) -> float:
        """The price a trigger on ``signal`` (``mark``, ``index`` or ``last``) reads at ``t_ms``."""
        if signal == "index":
            return self.market.index_price(symbol, t_ms)
        if signal == "last":
            return self.market.last_price(symbol, t_ms)
        return self.market.mark_price(symbol, t_ms)

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """The order book at ``t_ms``: (bids best first, asks best first), ``depth`` a side."""
        return self.market.book(symbol, t_ms, depth)

    def extremes(
        self, symbol: str, signal: Signal, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        """(min, max) of the ``signal`` price in ``(t0_ms, t1_ms]``; None if nothing printed."""
        return self.market.extremes(symbol, signal, t0_ms, t1_ms)

    @property
    def models_queue(self) -> bool:
        """True when resting orders queue behind the book's size at their price (live source)."""
        return bool(getattr(self.market, "models_queue", False))

    def queue_ahead(self, symbol: str, side: str, price: float, t_ms: int) -> float:
        """Contracts ahead of a new order resting at ``price`` on ``side`` (book size there)."""
        bids, asks = self.market.book(symbol, t_ms, depth=1_000)
        levels = bids if side == "buy" else asks
        return float(sum(size for level, size in levels if abs(level - price) < 1e-9))

    def trades(self, symbol: str, t0_ms: int, t1_ms: int) -> Trades:
        """Public trades in ``(t0_ms, t1_ms]``, oldest first."""
        return self.market.trades(symbol, t0_ms + 1, t1_ms + 1)

    def funding_rate(self, symbol: str, hour_ms: int) -> float:
        """Absolute funding rate of the hour starting at ``hour_ms``, fixed once read."""
        key = (symbol, hour_ms)
        if key not in self._funding:
            self._funding[key] = self.market.funding_rate(symbol, hour_ms)[0]
        return self._funding[key]

    def usd_value(self, currency: str, t_ms: int) -> float:
        """USD value of one unit of ``currency`` at ``t_ms``."""
        return self.market.usd_value(currency, t_ms)
