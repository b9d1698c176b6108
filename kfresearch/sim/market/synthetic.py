"""The seeded synthetic market: index, mark, public trades and books at any time.

Everything is a pure function of ``(seed, symbol, time)`` and can be evaluated
at any instant without replaying history from an origin. :class:`SyntheticMarket`
puts together the parts of this package:

* :mod:`~kfresearch.sim.market.noise`: counter-based randomness and caches;
* :mod:`~kfresearch.sim.market.paths`: daily levels and the 5 s index/mark paths;
* :mod:`~kfresearch.sim.market.book`: books straddling the mark, per second;
* :mod:`~kfresearch.sim.market.tape`: public trades printing at the book;
* :mod:`~kfresearch.sim.market.funding`: hourly funding from the premium;
* :mod:`~kfresearch.sim.market.candles`: candles from the trades and paths.

Day chunks are cached in small LRUs, so memory stays bounded whatever range
is asked for. Times are epoch milliseconds (UTC); prices are floats in USD.

Example
-------
>>> m = SyntheticMarket(seed=7)
>>> t = 1_793_491_200_000  # 2026-11-01T00:00:00Z
>>> m.index_price("PF_XBTUSD", t) == m.index_price("PI_XBTUSD", t)
True
>>> bids, asks = m.book("PF_XBTUSD", t)
>>> bids[0][0] < asks[0][0]
True
"""

from __future__ import annotations

import math
import threading

import numpy as np

from kfresearch.sim.instruments import InstrumentSpec, catalog, index_symbols, spec_for
from kfresearch.sim.market.book import Books
from kfresearch.sim.market.candles import CandleMaker, Candles, TickType
from kfresearch.sim.market.funding import Funding
from kfresearch.sim.market.noise import key, uniform
from kfresearch.sim.market.params import (
    ASSETS,
    DAY_MS,
    F64,
    I64,
    NODES,
    STEP_MS,
    liquidity,
    resolve,
    spec_of,
)
from kfresearch.sim.market.paths import PricePaths
from kfresearch.sim.market.tape import Stats24h, Tape, Trades
from kfresearch.sim.source import CASH, Level, Signal

__all__ = ["HISTORY_DAYS", "SyntheticMarket"]

HISTORY_DAYS = 2 * 365 + 1
"""Whole days of history the REST layer publishes by default: two years (a leap day included).

Deep enough that downloads of months of 1-minute candles and trades can be
tested offline; nothing is generated until it is asked for.
"""


class SyntheticMarket:
    """A deterministic market for every contract of the catalog (a ``MarketSource``).

    Parameters
    ----------
    seed : int
        Seed of every random number; the same seed gives the same market.
    history_days : int
        Days of history the REST layer serves before ``now`` (candles, trades,
        funding). The functions of this class are defined at every time; the
        window only bounds what is published.
    cache_days : int
        Day chunks kept per cache (bounds memory: about 1.2 MB per cached
        trade day of the busiest contract).
    """

    name = "synthetic"

    def __init__(
        self, seed: int = 0, *, history_days: int = HISTORY_DAYS, cache_days: int = 64
    ) -> None:
        self.seed = int(seed)
        self.history_days = int(history_days)
        lock = threading.RLock()
        self._paths = PricePaths(self.seed, lock, cache_days)
        self._books = Books(self.seed, lock, self._paths)
        self._tape = Tape(self.seed, lock, self._paths, self._books, cache_days)
        self._funding = Funding(lock, self._paths)
        self._candles = CandleMaker(lock, self._paths, self._tape, cache_days)

    def __repr__(self) -> str:
        return f"SyntheticMarket(seed={self.seed}, history_days={self.history_days})"

    def instruments(self, now_ms: int) -> list[InstrumentSpec]:
        """Contracts listed at ``now_ms`` (dated ones until they expire)."""
        return catalog(now_ms)

    def instrument(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        """The contract named ``symbol`` (case-insensitive) if listed at ``now_ms``, else None."""
        spec = spec_for(symbol, now_ms)
        return spec if spec is not None and spec.is_listed(now_ms) else None

    def history_start_ms(self, now_ms: int) -> int:
        """Earliest time the REST layer publishes: ``history_days`` whole days before now."""
        return (now_ms // DAY_MS - self.history_days) * DAY_MS

    def first_data_ms(self, spec: InstrumentSpec, now_ms: int) -> int:
        """First published time of ``spec`` at ``now_ms``: its opening or the history start."""
        return max(spec.opening_date_ms, self.history_start_ms(now_ms))

    def last_data_ms(self, spec: InstrumentSpec, now_ms: int) -> int:
        """Last time with data: ``now_ms``, or just before expiry for an expired contract."""
        if spec.last_trading_time_ms is not None:
            return min(now_ms, spec.last_trading_time_ms - 1)
        return now_ms

    @staticmethod
    def _base_of(symbol: str) -> str:
        spec = spec_of(symbol)
        if spec is not None:
            return spec.base
        name = symbol.upper()
        if name in ASSETS:
            return name
        for index_symbol, base in index_symbols():
            if index_symbol == symbol.lower():
                return base
        raise KeyError(f"unknown contract, index or coin {symbol!r}")

    # -- prices ----------------------------------------------------------

    def index_price(self, symbol: str, t_ms: int) -> float:
        """Spot index (USD) of the underlying of ``symbol`` at ``t_ms``.

        ``symbol`` may be a contract, an index (``in_xbtusd``/``rr_xbtusd``)
        or a coin (``XBT``).
        """
        return self._paths.index(self._base_of(symbol), t_ms)

    def mark_price(self, symbol: str, t_ms: int) -> float:
        """Mark price (USD) at ``t_ms``: index × (1 + smoothed premium)."""
        return self._paths.mark(symbol, t_ms)

    def last_price(self, symbol: str, t_ms: int) -> float:
        """Price of the last public trade at or before ``t_ms`` (the mark if none)."""
        last = self.last_trade(symbol, t_ms)
        return last[1] if last is not None else self.mark_price(symbol, t_ms)

    def last_trade(self, symbol: str, t_ms: int) -> tuple[int, float, float, int] | None:
        """``(time ms, price, size, trade id)`` of the last trade at or before ``t_ms``.

        Looks back at most 3 days (None before a dated contract's first trade).
        """
        return self._tape.last_trade(symbol, t_ms)

    def usd_value(self, currency: str, t_ms: int) -> float:
        """USD value of one unit of ``currency`` (``"XBT"``/``"BTC"``, coins, ``"USD"`` = 1.0).

        Raises
        ------
        KeyError
            For a currency the simulator does not price.
        """
        name = currency.upper()
        if name in CASH:
            return 1.0
        if name == "EUR":
            return 1.08
        if name == "GBP":
            return 1.27
        if name == "BTC":
            name = "XBT"
        if name not in ASSETS:
            raise KeyError(f"no USD value for currency {currency!r}")
        return self.index_price(name, t_ms)

    def extremes(
        self, symbol: str, signal: Signal, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        """(min, max) of the ``signal`` price in ``(t0_ms, t1_ms]``; None if nothing printed.

        ``last`` ranges over public trade prices; ``mark`` and ``index`` over
        the values the step functions take in the interval (the node in force
        just after ``t0_ms`` and every node starting inside).
        """
        if t1_ms <= t0_ms:
            return None
        if signal == "last":
            return self._tape.price_range(symbol, t0_ms, t1_ms)
        spec = resolve(symbol)
        lo, hi = math.inf, -math.inf
        g0 = (int(t0_ms) + 1) // STEP_MS  # node in force just after t0
        g1 = int(t1_ms) // STEP_MS
        for day in range(g0 // NODES, g1 // NODES + 1):
            if signal == "mark":
                nodes = self._paths.path_day(spec.symbol, day).mark
            else:
                nodes = self._paths.index_day(spec.base, day).nodes
            a = max(g0 - day * NODES, 0)
            b = min(g1 - day * NODES, NODES - 1) + 1
            chunk = nodes[a:b]
            lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
        return lo, hi

    # -- book ------------------------------------------------------------

    def spread_ticks(self, symbol: str, seconds: I64) -> I64:
        """Quoted spread in ticks for each epoch second in ``seconds`` (int64 array)."""
        return self._books.spread_ticks(symbol, seconds)

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """Order book at ``t_ms``: ``depth`` levels per side, best first.

        Bids strictly descending, asks strictly ascending, prices on the tick,
        sizes (contracts) on the size step. Deterministic per epoch second.
        """
        return self._books.book(symbol, t_ms, depth)

    # -- funding ---------------------------------------------------------

    def funding_rate(self, symbol: str, hour_ms: int) -> tuple[float, float]:
        """(absolute, relative) funding rate of a perpetual for the hour starting at ``hour_ms``.

        See :mod:`kfresearch.sim.market.funding`.

        Raises
        ------
        ValueError
            If ``symbol`` is not a perpetual.
        """
        return self._funding.funding_rate(symbol, hour_ms)

    def funding_rates(self, symbol: str, start_ms: int, end_ms: int) -> tuple[I64, F64, F64]:
        """Hourly funding of a perpetual for hours starting in ``[start_ms, end_ms]``.

        Returns
        -------
        (hour start ms int64, absolute float64, relative float64), ascending;
        the same numbers as :meth:`funding_rate`.
        """
        return self._funding.funding_rates(symbol, start_ms, end_ms)

    def funding_prediction(self, symbol: str, now_ms: int) -> tuple[float, float]:
        """(absolute, relative) estimate of the next hour's rate from the premium so far."""
        return self._funding.funding_prediction(symbol, now_ms)

    # -- open interest and 24 h statistics --------------------------------

    def open_interest(self, symbol: str, t_ms: int) -> float:
        """Open interest in contracts at ``t_ms``: a smooth seeded series around a typical level.

        Dated contracts build up after listing and run off into expiry.
        """
        spec = resolve(symbol)
        liq = liquidity(spec)
        phases = 2 * np.pi * uniform(key(self.seed, "oi", spec.symbol), np.arange(3))
        days = t_ms / DAY_MS
        wave = (
            0.15 * math.sin(2 * math.pi * days / 7.0 + phases[0])
            + 0.10 * math.sin(2 * math.pi * days / 1.3 + phases[1])
            + 0.08 * math.sin(2 * math.pi * days / 29.0 + phases[2])
        )
        usd = liq.open_interest_usd * math.exp(wave)
        if spec.last_trading_time_ms is not None:
            age = max(t_ms - spec.opening_date_ms, 0) / (10 * DAY_MS)
            left = max(spec.last_trading_time_ms - t_ms, 0) / (7 * DAY_MS)
            usd *= min(1.0, age) * min(1.0, 0.1 + left)
        price = spec.anchor_price if spec.anchor_price > 0 else 1.0
        contracts = usd / spec.contract_size if spec.is_inverse else usd / price
        return float(
            round(round(contracts / spec.size_step) * spec.size_step, max(spec.precision, 0))
        )

    def stats_24h(self, symbol: str, now_ms: int) -> Stats24h:
        """Statistics of the public trades in ``(now_ms - 24 h, now_ms]``."""
        return self._tape.stats_24h(symbol, now_ms)

    # -- trades ----------------------------------------------------------

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
        return self._tape.trades(symbol, start_ms, end_ms, limit=limit, descending=descending)

    def trade_uid(self, symbol: str, trade_id: int, role: str = "trade") -> str:
        """A stable UUID for a public trade (``role`` also names its maker/taker orders)."""
        return self._tape.trade_uid(symbol, trade_id, role)

    # -- candles ---------------------------------------------------------

    def candles(
        self,
        symbol: str,
        tick_type: TickType,
        resolution: str,
        now_ms: int,
        *,
        from_ms: int | None = None,
        to_ms: int | None = None,
        limit: int = 2000,
    ) -> tuple[Candles, bool]:
        """OHLCV candles of a listed contract, only what exists at ``now_ms``.

        Candles are the buckets whose start lies in ``[from_ms, to_ms]``
        (``to_ms`` defaults to now). With ``from_ms`` the first ``limit``
        such candles are returned, otherwise the last ``limit`` up to
        ``to_ms``. 1-minute ``trade`` candles are built from the public trades
        of that minute; ``mark``/``spot`` ones from the 5 s mark/index grid
        (volume 0). Coarser resolutions aggregate 1-minute candles; ``1w``
        buckets start on Monday 00:00 UTC. The bucket holding ``now_ms`` is
        built from what printed up to ``now_ms``.

        Returns
        -------
        (candles, more): ``more`` is True when the range held more candles.

        Raises
        ------
        KeyError
            For an unknown resolution or a contract not listed at ``now_ms``.
        """
        spec = self.instrument(symbol, now_ms)
        if spec is None:
            raise KeyError(f"{symbol!r} is not listed")
        return self._candles.candles(
            spec,
            tick_type,
            resolution,
            first=self.first_data_ms(spec, now_ms),
            last=self.last_data_ms(spec, now_ms),
            from_ms=from_ms,
            to_ms=to_ms,
            limit=limit,
        )
