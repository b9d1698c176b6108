"""The seeded synthetic market: index, mark, public trades and books at any time.

Everything is a pure function of ``(seed, symbol, time)`` and can be evaluated
at any instant without replaying history from an origin:

* **Daily levels.** The log index of each coin at 00:00 UTC of day ``d`` is a
  closed-form function of ``(seed, coin, d)``: slow seeded sinusoids plus an
  AR(1)-like component written as a finite moving sum of hashed daily shocks
  (``F(d) = sqrt(1-ρ²) Σ_j ρ^j ε(d-j)``), so it mean-reverts around the
  coin's anchor price. Daily shocks are scaled by a volatility regime (itself
  a moving sum of hashed shocks), which clusters volatility across days. A
  common crypto factor makes the coins move together.
* **Intraday paths.** Within a UTC day the index lives on a 5-second grid
  (17,280 nodes). The path is generated vectorised with numpy from a
  generator seeded by ``(seed, coin, day)``: clustered minute volatility
  (smoothed log-vol noise times an intraday seasonality, quieter weekends),
  occasional jumps, bridged so that it ends exactly on the next day's level.
  Index and mark are step functions: the value at ``t`` is the node at
  ``floor(t / 5 s)``.
* **Contracts.** ``mark = index × (1 + premium)``. Perpetuals carry a small
  smoothed premium (a few basis points, also a bridged daily process); dated
  contracts carry a basis that shrinks linearly to zero at expiry, so they
  settle at the index. Contracts on one coin (``PF_XBTUSD``, ``PI_XBTUSD``,
  ``FI_XBTUSD_*``) share the index.
* **Public trades.** Per minute ``1 + Poisson(λ)`` trades (λ follows the
  minute's volatility), at uniform millisecond times, each at the best ask
  (buy) or best bid (sell) of the book at that second, with lognormal sizes
  on the size step. Candles, 24 h statistics and ``last`` all come from these
  trades, so candle volumes equal the trades in the same window.
* **Books.** Best bid/ask straddle the mark with a spread of a few ticks drawn
  per second; deeper levels are on the tick, sizes grow with distance.

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

import functools
import hashlib
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from kfresearch.sim.instruments import (
    DAY_MS,
    HOUR_MS,
    InstrumentSpec,
    catalog,
    index_symbols,
    spec_for,
)
from kfresearch.sim.interfaces import Level, Signal

__all__ = [
    "HISTORY_DAYS",
    "MINUTE_MS",
    "RESOLUTIONS",
    "STEP_MS",
    "Candles",
    "Stats24h",
    "SyntheticMarket",
    "TickType",
    "Trades",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]

TickType = Literal["trade", "mark", "spot"]

STEP_MS = 5_000
"""Spacing of the index/mark grid: both change at most every 5 seconds."""
MINUTE_MS = 60_000
NODES = DAY_MS // STEP_MS  # 17,280 nodes per UTC day
MINUTES = DAY_MS // MINUTE_MS  # 1,440
NODES_PER_MINUTE = MINUTE_MS // STEP_MS  # 12
YEAR_MS = 365 * DAY_MS
HISTORY_DAYS = 2 * 365 + 1
"""Whole days of history the REST layer publishes by default: two years (a leap day included).

Deep enough that downloads of months of 1-minute candles and trades can be
tested offline; nothing is generated until it is asked for.
"""

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

BOOK_LEVELS = 100  # levels per side drawn for every book

WEEK_OFFSET_MS = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch

TRADE_ID_STRIDE = 1_000_000
"""Trade ids are ``(day - opening day) × stride + rank in the day + 1``.

Increasing with time and starting at 1 on the contract's opening day, but not
contiguous across days: counting every trade since listing would mean
generating every day since listing.
"""


# ---------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class _Asset:
    daily_vol: float  # std of a daily log return in a normal regime
    beta: float  # loading on the common crypto factor (correlation ≈ beta_a × beta_b)


_ASSETS: dict[str, _Asset] = {
    "XBT": _Asset(0.025, 0.92),
    "ETH": _Asset(0.034, 0.88),
    "SOL": _Asset(0.045, 0.78),
    "XRP": _Asset(0.040, 0.68),
    "DOGE": _Asset(0.050, 0.72),
    "ADA": _Asset(0.042, 0.72),
    "LINK": _Asset(0.044, 0.72),
    "LTC": _Asset(0.036, 0.72),
}


@dataclass(frozen=True)
class _Liquidity:
    trades_per_minute: float  # mean of the Poisson part (one more is always added)
    spread_ticks: tuple[int, int]  # inclusive range of the quoted spread, in ticks
    trade_usd: float  # median trade notional, USD
    level_usd: float  # median size of the best book level, USD
    open_interest_usd: float  # typical open interest, USD notional


_LIQUIDITY: dict[str, _Liquidity] = {
    "PF_XBTUSD": _Liquidity(20, (1, 3), 6_000, 60_000, 300e6),
    "PF_ETHUSD": _Liquidity(14, (1, 3), 4_000, 40_000, 150e6),
    "PF_SOLUSD": _Liquidity(8, (1, 3), 2_500, 20_000, 60e6),
    "PF_XRPUSD": _Liquidity(6, (1, 4), 2_000, 15_000, 40e6),
    "PF_DOGEUSD": _Liquidity(5, (10, 30), 1_500, 10_000, 25e6),
    "PF_ADAUSD": _Liquidity(3, (2, 6), 1_000, 8_000, 12e6),
    "PF_LINKUSD": _Liquidity(3, (1, 4), 1_000, 8_000, 10e6),
    "PF_LTCUSD": _Liquidity(3, (1, 3), 1_000, 8_000, 10e6),
    "PI_XBTUSD": _Liquidity(6, (1, 4), 5_000, 50_000, 120e6),
    "PI_ETHUSD": _Liquidity(3, (1, 3), 3_000, 20_000, 30e6),
}
_DATED_LIQUIDITY = _Liquidity(1.5, (2, 8), 4_000, 25_000, 20e6)

# Daily level: every coin wanders about 12 % (one s.d. of log price) around its
# anchor; the more volatile the coin, the faster it reverts (ρ = 1 - (σ/0.12)²/2,
# half-life from ~30 days for XBT to ~8 days for DOGE).
_LEVEL_SD, _LEVEL_LAGS = 0.12, 240
_REGIME_RHO, _REGIME_LAGS, _REGIME_VOL = 0.85, 40, 0.35  # volatility regime
_PREMIUM_RHO, _PREMIUM_LAGS = 0.8, 30
_SINES = ((37.0, 0.05), (97.0, 0.04), (233.0, 0.03))  # (period in days, amplitude of log price)


# ---------------------------------------------------------------------------
# Counter-based randomness: the same numbers for the same (key, index), in any order


def _key(*parts: object) -> int:
    """A stable 64-bit key for a tuple of ints/strings (Python's hash() is salted)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    # splitmix64 finaliser; uint64 array arithmetic wraps silently, as intended
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniform(key: int, idx: I64) -> F64:
    """Uniforms in (0, 1) indexed by ``idx`` (int64 array) under ``key``."""
    h = _mix(_mix(np.atleast_1d(idx).astype(np.uint64) ^ np.uint64(key)))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def _normal(key: int, idx: I64) -> F64:
    """Standard normals indexed by ``idx`` (Box-Muller on two hashed uniforms)."""
    u1 = _uniform(key, idx)
    u2 = _uniform(key ^ 0x5DEECE66D1234567, idx)
    out: F64 = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return out


def _moving_ar(innovations: F64, rho: float, lags: int) -> F64:
    """``sqrt(1-ρ²) Σ_{j<lags} ρ^j x[t-j]`` for each full window (unit variance for unit x)."""
    kernel = rho ** np.arange(lags, dtype=np.float64)
    out: F64 = np.convolve(innovations, kernel, mode="valid") * math.sqrt(1.0 - rho * rho)
    return out


def _smooth_kernel(length: int, decay: float) -> F64:
    """Exponential kernel with unit L2 norm: smoothing white noise keeps unit variance."""
    k = np.exp(-np.arange(length, dtype=np.float64) / decay)
    out: F64 = k / np.sqrt(np.sum(k * k))
    return out


_VOL_KERNEL = _smooth_kernel(240, 60.0)  # minute log-vol memory ≈ 1 hour
_PREMIUM_KERNEL = _smooth_kernel(120, 30.0)


def _weekend_factor(days: I64) -> F64:
    # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays
    out: F64 = np.where((days + 3) % 7 >= 5, 0.7, 1.0)
    return out


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Trades:
    """Public trades, one row per index of equal-length arrays.

    Attributes
    ----------
    time_ms : int64 array
        Epoch milliseconds.
    price : float64 array
        Price in USD, on the contract's tick.
    size : float64 array
        Contracts (base units for ``PF_``, USD for inverse), on the size step.
    buy : bool array
        True when the taker bought.
    trade_id : int64 array
        Per-contract id, increasing with time (see ``TRADE_ID_STRIDE``).
    """

    time_ms: I64
    price: F64
    size: F64
    buy: Bool
    trade_id: I64

    def __len__(self) -> int:
        return int(self.time_ms.shape[0])

    @staticmethod
    def empty() -> Trades:
        return Trades(
            np.empty(0, np.int64),
            np.empty(0),
            np.empty(0),
            np.empty(0, bool),
            np.empty(0, np.int64),
        )


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


# ---------------------------------------------------------------------------
# Cached day chunks


@dataclass(frozen=True)
class _IndexDay:
    nodes: F64  # (NODES + 1,) index on the 5 s grid; the last node is the next day's first
    sigma: F64  # (MINUTES,) relative minute volatility, mean square 1
    regime: float  # the day's volatility multiplier


@dataclass(frozen=True)
class _PathDay:
    mark: F64  # (NODES + 1,) mark price on the 5 s grid


@dataclass(frozen=True)
class _TradeDay:
    time: I64
    price: F64
    size: F64
    buy: Bool
    first_id: int  # trade id of row 0
    cum_size: F64  # (n + 1,) running sum of size, from 0
    cum_quote: F64  # (n + 1,) running sum of the USD notional, from 0


@dataclass(frozen=True)
class _Bars:
    open: F64  # (MINUTES,), NaN where ``has`` is False
    high: F64
    low: F64
    close: F64
    volume: F64
    has: Bool


T = TypeVar("T")


class _LRU(Generic[T]):
    """A small least-recently-used cache (callers hold the market's lock)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, T] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        hit = self._data.get(key)
        if hit is not None:
            self._data.move_to_end(key)
            return hit
        value = make()
        self._data[key] = value
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)


@functools.lru_cache(maxsize=256)
def _spec(symbol: str) -> InstrumentSpec | None:
    return spec_for(symbol)


def _quote_ticks(mark: F64, tick: float, spread: I64) -> tuple[I64, I64]:
    """Best bid and ask in ticks straddling ``mark`` with ``spread`` ticks between them.

    Trades and books both use this, so a trade always prints at that
    second's best bid or ask.
    """
    bid = np.rint(mark / tick - spread / 2.0).astype(np.int64)
    return bid, bid + spread


# ---------------------------------------------------------------------------


class SyntheticMarket:
    """A deterministic market for every contract of the catalog (implements ``Market``).

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

    def __init__(
        self, seed: int = 0, *, history_days: int = HISTORY_DAYS, cache_days: int = 64
    ) -> None:
        self.seed = int(seed)
        self.history_days = int(history_days)
        self._lock = threading.RLock()
        self._index_days: _LRU[_IndexDay] = _LRU(cache_days)
        self._path_days: _LRU[_PathDay] = _LRU(cache_days)
        self._trade_days: _LRU[_TradeDay] = _LRU(max(8, cache_days // 2))
        self._bars: _LRU[_Bars] = _LRU(8 * cache_days)
        self._funding: _LRU[tuple[F64, F64]] = _LRU(4096)
        self._books: _LRU[tuple[list[Level], list[Level]]] = _LRU(256)

    def __repr__(self) -> str:
        return f"SyntheticMarket(seed={self.seed}, history_days={self.history_days})"

    # -- catalog ---------------------------------------------------------

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
    def _resolve(symbol: str) -> InstrumentSpec:
        spec = _spec(symbol.upper())
        if spec is None:
            raise KeyError(f"unknown contract {symbol!r}")
        return spec

    @staticmethod
    def _base_of(symbol: str) -> str:
        spec = _spec(symbol.upper())
        if spec is not None:
            return spec.base
        name = symbol.upper()
        if name in _ASSETS:
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
        day, node = divmod(int(t_ms) // STEP_MS, NODES)
        return float(self._index_day(self._base_of(symbol), day).nodes[node])

    def mark_price(self, symbol: str, t_ms: int) -> float:
        """Mark price (USD) at ``t_ms``: index × (1 + smoothed premium)."""
        day, node = divmod(int(t_ms) // STEP_MS, NODES)
        return float(self._path_day(self._resolve(symbol).symbol, day).mark[node])

    def last_price(self, symbol: str, t_ms: int) -> float:
        """Price of the last public trade at or before ``t_ms`` (the mark if none)."""
        last = self.last_trade(symbol, t_ms)
        return last[1] if last is not None else self.mark_price(symbol, t_ms)

    def last_trade(self, symbol: str, t_ms: int) -> tuple[int, float, float, int] | None:
        """``(time ms, price, size, trade id)`` of the last trade at or before ``t_ms``.

        Looks back at most 3 days (None before a dated contract's first trade).
        """
        name = self._resolve(symbol).symbol
        day = int(t_ms) // DAY_MS
        for d in range(day, day - 3, -1):
            td = self._trade_day(name, d)
            i = int(np.searchsorted(td.time, t_ms, side="right")) - 1
            if i >= 0:
                return int(td.time[i]), float(td.price[i]), float(td.size[i]), td.first_id + i
        return None

    def usd_value(self, currency: str, t_ms: int) -> float:
        """USD value of one unit of ``currency`` (``"XBT"``/``"BTC"``, coins, ``"USD"`` = 1.0).

        Raises
        ------
        KeyError
            For a currency the simulator does not price.
        """
        name = currency.upper()
        if name in {"USD", "USDT", "USDC"}:
            return 1.0
        if name == "EUR":
            return 1.08
        if name == "GBP":
            return 1.27
        if name == "BTC":
            name = "XBT"
        if name not in _ASSETS:
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
        spec = self._resolve(symbol)
        lo, hi = math.inf, -math.inf
        if signal == "last":
            for day in range(int(t0_ms) // DAY_MS, int(t1_ms) // DAY_MS + 1):
                td = self._trade_day(spec.symbol, day)
                i0 = int(np.searchsorted(td.time, t0_ms, side="right"))
                i1 = int(np.searchsorted(td.time, t1_ms, side="right"))
                if i1 > i0:
                    chunk = td.price[i0:i1]
                    lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
            return (lo, hi) if hi >= lo else None
        g0 = (int(t0_ms) + 1) // STEP_MS  # node in force just after t0
        g1 = int(t1_ms) // STEP_MS
        for day in range(g0 // NODES, g1 // NODES + 1):
            if signal == "mark":
                nodes = self._path_day(spec.symbol, day).mark
            else:
                nodes = self._index_day(spec.base, day).nodes
            a = max(g0 - day * NODES, 0)
            b = min(g1 - day * NODES, NODES - 1) + 1
            chunk = nodes[a:b]
            lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
        return lo, hi

    # -- book ------------------------------------------------------------

    def spread_ticks(self, symbol: str, seconds: I64) -> I64:
        """Quoted spread in ticks for each epoch second in ``seconds`` (int64 array)."""
        spec = self._resolve(symbol)
        lo, hi = self._liquidity(spec).spread_ticks
        u = _uniform(_key(self.seed, "spread", spec.symbol), seconds)
        # squared uniform: tight spreads most of the time, wider ones now and then
        out: I64 = lo + np.floor((hi - lo + 1) * u * u).astype(np.int64)
        return out

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """Order book at ``t_ms``: ``depth`` levels per side, best first.

        Bids strictly descending, asks strictly ascending, prices on the tick,
        sizes (contracts) on the size step. Deterministic per epoch second.
        """
        spec = self._resolve(symbol)
        depth = max(1, int(depth))
        second = int(t_ms) // 1000
        # the book is a function of the second: engines ask for it many times
        levels = max(depth, BOOK_LEVELS)
        with self._lock:
            bids, asks = self._books.get(
                (spec.symbol, second, levels), lambda: self._make_book(spec, second, levels)
            )
        return bids[:depth], asks[:depth]

    def _make_book(
        self, spec: InstrumentSpec, second: int, levels: int
    ) -> tuple[list[Level], list[Level]]:
        # always at least BOOK_LEVELS levels, so that a shallow book is the top
        # of the deeper one at the same second
        mark = np.array([self.mark_price(spec.symbol, second * 1000)])
        spread = self.spread_ticks(spec.symbol, np.array([second], dtype=np.int64))
        bid0, ask0 = _quote_ticks(mark, spec.tick_size, spread)
        rng = np.random.default_rng(_key(self.seed, "book", spec.symbol, second))
        liq = self._liquidity(spec)
        sides: list[list[Level]] = []
        for best, direction in ((int(bid0[0]), -1), (int(ask0[0]), 1)):
            # mostly adjacent ticks, a gap of 2-3 ticks now and then
            gaps = 1 + (rng.random(levels) < 0.25) * rng.integers(1, 3, levels)
            gaps[0] = 0
            ticks = best + direction * np.cumsum(gaps)
            usd = (
                liq.level_usd
                * np.exp(0.8 * rng.standard_normal(levels))
                * (1.0 + 0.15 * np.arange(levels))
            )
            positive = ticks > 0
            prices = np.round(ticks[positive] * spec.tick_size, spec.tick_decimals)
            sizes = self._to_contracts(spec, usd[positive], prices)
            sides.append(list(zip(prices.tolist(), sizes.tolist(), strict=True)))
        return sides[0], sides[1]

    # -- funding ---------------------------------------------------------

    def funding_rate(self, symbol: str, hour_ms: int) -> tuple[float, float]:
        """(absolute, relative) funding rate of a perpetual for the hour starting at ``hour_ms``.

        The relative rate is the average premium (mark / index - 1) over the
        previous hour divided by ``fundingRateCoefficient``, capped at
        ``±maxRelativeFundingRate``; it is known when the hour starts.
        Absolute = relative × index for linear contracts and relative / index
        for inverse ones, with the index at the start of the hour (§7.5).

        Raises
        ------
        ValueError
            If ``symbol`` is not a perpetual.
        """
        spec = self._resolve(symbol)
        hour = int(hour_ms) // HOUR_MS
        day, h = divmod(hour, 24)
        absolute, relative = self._funding_day(spec, day)
        return float(absolute[h]), float(relative[h])

    def funding_rates(self, symbol: str, start_ms: int, end_ms: int) -> tuple[I64, F64, F64]:
        """Hourly funding of a perpetual for hours starting in ``[start_ms, end_ms]``.

        Returns
        -------
        (hour start ms int64, absolute float64, relative float64), ascending;
        the same numbers as :meth:`funding_rate`.
        """
        spec = self._resolve(symbol)
        h0 = -(-int(start_ms) // HOUR_MS)
        h1 = int(end_ms) // HOUR_MS
        times, absolute, relative = [], [], []
        for day in range(h0 // 24, h1 // 24 + 1):
            a, r = self._funding_day(spec, day)
            lo, hi = max(h0 - day * 24, 0), min(h1 - day * 24, 23) + 1
            times.append((day * 24 + np.arange(lo, hi, dtype=np.int64)) * HOUR_MS)
            absolute.append(a[lo:hi])
            relative.append(r[lo:hi])
        if not times:
            return np.empty(0, np.int64), np.empty(0), np.empty(0)
        return np.concatenate(times), np.concatenate(absolute), np.concatenate(relative)

    def funding_prediction(self, symbol: str, now_ms: int) -> tuple[float, float]:
        """(absolute, relative) estimate of the next hour's rate from the premium so far."""
        spec = self._perpetual(symbol)
        start = int(now_ms) // HOUR_MS * HOUR_MS
        g0, g1 = start // STEP_MS, int(now_ms) // STEP_MS + 1
        day = g0 // NODES
        a, b = g0 - day * NODES, min(g1 - day * NODES, NODES)
        premium = (
            self._path_day(spec.symbol, day).mark[a:b] / self._index_day(spec.base, day).nodes[a:b]
            - 1.0
        )
        relative = self._cap(spec, float(premium.mean()))
        index = self.index_price(spec.base, now_ms)
        return (relative / index if spec.is_inverse else relative * index), relative

    @staticmethod
    def _cap(spec: InstrumentSpec, premium: float) -> float:
        coefficient = spec.funding_rate_coefficient or 8.0
        cap = spec.max_relative_funding_rate or 0.001
        return float(np.clip(premium / coefficient, -cap, cap))

    def _perpetual(self, symbol: str) -> InstrumentSpec:
        spec = self._resolve(symbol)
        if not spec.is_perpetual:
            raise ValueError(f"{spec.symbol} is not a perpetual: it has no funding")
        return spec

    def _funding_day(self, spec: InstrumentSpec, day: int) -> tuple[F64, F64]:
        """Absolute and relative rates (float64[24]) of the hours of ``day``."""
        spec = self._perpetual(spec.symbol)

        def make() -> tuple[F64, F64]:
            # hour h of `day` uses the premium of the hour before it: the last
            # hour of the previous day for h = 0
            prev_mark = self._path_day(spec.symbol, day - 1).mark[NODES - 720 : NODES]
            prev_index = self._index_day(spec.base, day - 1).nodes[NODES - 720 : NODES]
            mark = self._path_day(spec.symbol, day).mark[: NODES - 720]
            index = self._index_day(spec.base, day).nodes
            premium = np.concatenate([prev_mark / prev_index, mark / index[: NODES - 720]]) - 1.0
            average = premium.reshape(24, 720).mean(axis=1)
            coefficient = spec.funding_rate_coefficient or 8.0
            cap = spec.max_relative_funding_rate or 0.001
            relative = np.clip(average / coefficient, -cap, cap)
            at_hour = index[:NODES:720]  # index at the start of each hour
            absolute = relative / at_hour if spec.is_inverse else relative * at_hour
            return absolute, relative

        with self._lock:
            return self._funding.get((spec.symbol, day), make)

    # -- open interest and 24 h statistics --------------------------------

    def open_interest(self, symbol: str, t_ms: int) -> float:
        """Open interest in contracts at ``t_ms``: a smooth seeded series around a typical level.

        Dated contracts build up after listing and run off into expiry.
        """
        spec = self._resolve(symbol)
        liq = self._liquidity(spec)
        phases = 2 * np.pi * _uniform(_key(self.seed, "oi", spec.symbol), np.arange(3))
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
        spec = self._resolve(symbol)
        start = int(now_ms) - DAY_MS
        volume = quote = 0.0
        for day in (start // DAY_MS, int(now_ms) // DAY_MS):
            td = self._trade_day(spec.symbol, day)
            i0 = int(np.searchsorted(td.time, start, side="right"))
            i1 = int(np.searchsorted(td.time, now_ms, side="right"))
            if i1 > i0:
                volume += float(td.cum_size[i1] - td.cum_size[i0])
                quote += float(td.cum_quote[i1] - td.cum_quote[i0])
        last = self.last_trade(spec.symbol, now_ms)
        if last is None:
            mark = self.mark_price(spec.symbol, now_ms)
            return Stats24h(mark, mark, mark, mark, int(now_ms), 0.0, 0.0, 0.0, 0.0)
        before = self.last_trade(spec.symbol, start)
        window = self.extremes(spec.symbol, "last", start, now_ms)
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
        spec = self._resolve(symbol)
        if end_ms <= start_ms or (limit is not None and limit <= 0):
            return Trades.empty()
        days = range(int(start_ms) // DAY_MS, (int(end_ms) - 1) // DAY_MS + 1)
        parts: list[tuple[_TradeDay, int, int]] = []
        remaining = limit if limit is not None else -1
        for day in reversed(days) if descending else days:
            td = self._trade_day(spec.symbol, day)
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
        digest = hashlib.blake2b(
            repr((self.seed, role, symbol.upper(), int(trade_id))).encode(), digest_size=16
        ).digest()
        return str(uuid.UUID(bytes=digest, version=4))

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
        res = RESOLUTIONS[resolution]
        offset = WEEK_OFFSET_MS if resolution == "1w" else 0
        limit = max(0, int(limit))

        def floor_b(t: int) -> int:
            return (t - offset) // res * res + offset

        first = self.first_data_ms(spec, now_ms)
        last = self.last_data_ms(spec, now_ms)
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
    ) -> _Bars:
        """1-minute bars for minutes ``[m_lo, m_hi)``; the minute of ``last_ms`` only up to it."""
        parts: list[_Bars] = []
        for day in range(m_lo // DAY_MS, (m_hi - 1) // DAY_MS + 1):
            bars = self._day_bars(spec, tick_type, day)
            a = max(m_lo - day * DAY_MS, 0) // MINUTE_MS
            b = min(m_hi - day * DAY_MS, DAY_MS) // MINUTE_MS
            parts.append(
                _Bars(
                    bars.open[a:b],
                    bars.high[a:b],
                    bars.low[a:b],
                    bars.close[a:b],
                    bars.volume[a:b],
                    bars.has[a:b],
                )
            )
        # concatenate copies: the cached day arrays are never written to
        merged = _Bars(
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
            t = self.trades(spec.symbol, minute_ms, last_ms + 1)
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
            nodes = self._path_day(spec.symbol, day).mark[first : first + count]
        else:
            nodes = self._index_day(spec.base, day).nodes[first : first + count]
        return float(nodes[0]), float(nodes.max()), float(nodes.min()), float(nodes[-1]), 0.0

    @staticmethod
    def _aggregate(bars: _Bars, m_lo: int, res: int, offset: int, precision: int) -> Candles:
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

    # -- chunk generation ------------------------------------------------

    def _liquidity(self, spec: InstrumentSpec) -> _Liquidity:
        return _LIQUIDITY.get(spec.symbol, _DATED_LIQUIDITY)

    @staticmethod
    def _to_contracts(spec: InstrumentSpec, usd: F64, price: F64) -> F64:
        """USD notionals to sizes in contracts on the size step (at least one step)."""
        raw = usd / spec.contract_size if spec.is_inverse else usd / (price * spec.contract_size)
        steps = np.maximum(np.rint(raw / spec.size_step), 1.0)
        out: F64 = np.round(steps * spec.size_step, max(spec.precision, 0))
        return out

    def _levels(self, base: str, days: I64) -> tuple[F64, F64]:
        """Log index level at 00:00 UTC and volatility regime for each day in ``days``.

        Closed form in ``(seed, base, day)``: sinusoids plus moving sums of
        hashed daily shocks (see the module docstring).
        """
        asset = _ASSETS[base]
        spec = self._resolve(f"PF_{base}USD")
        rho = 1.0 - 0.5 * (asset.daily_vol / _LEVEL_SD) ** 2
        lo, hi = int(days.min()), int(days.max())
        # regime on [lo - LEVEL_LAGS + 1, hi] needs shocks from REGIME_LAGS - 1 earlier
        span = np.arange(lo - _LEVEL_LAGS - _REGIME_LAGS + 2, hi + 1, dtype=np.int64)
        g_market = _moving_ar(_normal(_key(self.seed, "regime"), span), _REGIME_RHO, _REGIME_LAGS)
        g_own = _moving_ar(
            _normal(_key(self.seed, "regime", base), span), _REGIME_RHO, _REGIME_LAGS
        )
        shock_days = span[_REGIME_LAGS - 1 :]
        weekend = _weekend_factor(shock_days)
        regime_market = np.exp(_REGIME_VOL * g_market - 0.5 * _REGIME_VOL**2)
        regime = np.exp(_REGIME_VOL * (0.8 * g_market + 0.6 * g_own) - 0.5 * _REGIME_VOL**2)
        f_market = _moving_ar(
            _normal(_key(self.seed, "level"), shock_days) * regime_market * weekend,
            rho,
            _LEVEL_LAGS,
        )
        f_own = _moving_ar(
            _normal(_key(self.seed, "level", base), shock_days) * regime * weekend,
            rho,
            _LEVEL_LAGS,
        )
        out_days = np.arange(lo, hi + 1, dtype=np.int64)
        scale = _LEVEL_SD
        phases = 2 * np.pi * _uniform(_key(self.seed, "phase", base), np.arange(len(_SINES)))
        log_level = math.log(spec.anchor_price) + scale * (
            asset.beta * f_market + math.sqrt(1.0 - asset.beta**2) * f_own
        )
        for (period, amplitude), phase in zip(_SINES, phases, strict=True):
            log_level = log_level + amplitude * np.sin(2 * np.pi * out_days / period + phase)
        pick = days - lo
        regime_days = regime[_LEVEL_LAGS - 1 :]
        return log_level[pick], regime_days[pick]

    def _index_day(self, base: str, day: int) -> _IndexDay:
        with self._lock:
            return self._index_days.get((base, day), lambda: self._make_index_day(base, day))

    def _make_index_day(self, base: str, day: int) -> _IndexDay:
        asset = _ASSETS[base]
        log_level, regimes = self._levels(base, np.array([day, day + 1], dtype=np.int64))
        regime = float(regimes[0])
        # the market stream is drawn identically for every coin (common factor)
        rng_m = np.random.default_rng(_key(self.seed, "intraday", day))
        rng_u = np.random.default_rng(_key(self.seed, "intraday", base, day))
        z_m, z_u = rng_m.standard_normal(NODES), rng_u.standard_normal(NODES)
        n_kernel = _VOL_KERNEL.shape[0]
        noise = 0.75 * rng_m.standard_normal(MINUTES + n_kernel - 1) + 0.66 * rng_u.standard_normal(
            MINUTES + n_kernel - 1
        )
        log_vol = np.convolve(noise, _VOL_KERNEL, mode="valid")
        hours = (np.arange(MINUTES) + 0.5) / 60.0
        # busier around the US open, a little around the Asian morning
        season = (
            0.8
            + 0.6 * np.exp(-(((hours - 14.5) / 2.2) ** 2))
            + 0.25 * np.exp(-(((hours - 2.0) / 2.0) ** 2))
        )
        sigma = season * np.exp(0.45 * log_vol)
        sigma = sigma / np.sqrt(np.mean(sigma * sigma))
        weekend = float(_weekend_factor(np.array([day], dtype=np.int64))[0])
        step_sd = np.repeat(sigma, NODES_PER_MINUTE) * (
            asset.daily_vol * regime * weekend / math.sqrt(NODES)
        )
        beta = asset.beta
        increments = step_sd * (beta * z_m + math.sqrt(1 - beta * beta) * z_u)
        jump_sd = 0.5 * asset.daily_vol * regime
        for rng, scale, rate in ((rng_m, beta, 0.3), (rng_u, 1.0, 0.2)):
            count = int(rng.poisson(rate))
            where = rng.integers(0, NODES, count)
            np.add.at(increments, where, scale * jump_sd * rng.standard_normal(count))
        path = np.concatenate([[0.0], np.cumsum(increments)])
        weight = np.concatenate([[0.0], np.cumsum(step_sd * step_sd)])
        weight /= weight[-1]
        # bridge: pull the free path onto tomorrow's level, in proportion to the
        # variance already elapsed (jumps stay sharp)
        x = log_level[0] + path - weight * (path[-1] - (log_level[1] - log_level[0]))
        x[-1] = log_level[1]
        return _IndexDay(nodes=np.exp(x), sigma=sigma, regime=regime)

    def _premium_levels(self, symbol: str, days: I64) -> F64:
        """Perpetual premium (fraction) at 00:00 UTC of each day: a few basis points."""
        lo, hi = int(days.min()), int(days.max())
        span = np.arange(lo - _PREMIUM_LAGS + 1, hi + 1, dtype=np.int64)
        ar = _moving_ar(
            _normal(_key(self.seed, "premium", symbol), span), _PREMIUM_RHO, _PREMIUM_LAGS
        )
        phase = 2 * np.pi * float(_uniform(_key(self.seed, "premium-phase", symbol), span[:1])[0])
        out_days = np.arange(lo, hi + 1)
        # a basis point or two on average: hourly funding of order 1e-5 relative
        mean = 0.0002 if symbol.startswith("PI_") else 0.00015
        level = mean + 0.00015 * np.sin(2 * np.pi * out_days / 19.0 + phase) + 0.00015 * ar
        out: F64 = level[days - lo]
        return out

    def _bridged_noise(self, name: str, day: int, scale: float) -> F64:
        """Smoothed minute noise (MINUTES + 1 values) that is 0 at both day ends."""
        rng = np.random.default_rng(_key(self.seed, name, day))
        n_kernel = _PREMIUM_KERNEL.shape[0]
        q = np.convolve(rng.standard_normal(MINUTES + n_kernel), _PREMIUM_KERNEL, mode="valid")
        frac = np.arange(MINUTES + 1) / MINUTES
        out: F64 = scale * (q - frac * q[-1] - (1 - frac) * q[0])
        return out

    def _path_day(self, symbol: str, day: int) -> _PathDay:
        with self._lock:
            return self._path_days.get((symbol, day), lambda: self._make_path_day(symbol, day))

    def _make_path_day(self, symbol: str, day: int) -> _PathDay:
        spec = self._resolve(symbol)
        index = self._index_day(spec.base, day)
        minute_axis = np.arange(MINUTES + 1, dtype=np.float64)
        node_axis = np.arange(NODES + 1, dtype=np.float64) / NODES_PER_MINUTE
        frac = minute_axis / MINUTES
        if spec.last_trading_time_ms is None:
            p0, p1 = self._premium_levels(spec.symbol, np.array([day, day + 1], dtype=np.int64))
            per_minute = (
                p0 + (p1 - p0) * frac + self._bridged_noise(f"premium:{spec.symbol}", day, 0.0001)
            )
            premium = np.interp(node_axis, minute_axis, per_minute)
        else:
            expiry = spec.last_trading_time_ms
            times = day * DAY_MS + np.arange(NODES + 1, dtype=np.int64) * STEP_MS
            tau = np.clip(expiry - times, 0, None) / YEAR_MS
            # annualised basis: a slow seeded wave around 6 % (contango)
            phase = (
                2
                * np.pi
                * float(_uniform(_key(self.seed, "basis", spec.symbol), np.zeros(1, np.int64))[0])
            )
            basis_days = np.array([day, day + 1], dtype=np.float64)
            basis = 0.06 + 0.025 * np.sin(2 * np.pi * basis_days / 23.0 + phase)
            annual = np.interp(node_axis / MINUTES, [0.0, 1.0], basis)
            noise = np.interp(
                node_axis, minute_axis, self._bridged_noise(f"basis:{spec.symbol}", day, 0.0003)
            )
            premium = annual * tau + noise * np.minimum(1.0, np.sqrt(tau * 12.0))
            premium[times >= expiry] = 0.0  # settled at the index
        return _PathDay(mark=index.nodes * (1.0 + premium))

    def _trade_day(self, symbol: str, day: int) -> _TradeDay:
        with self._lock:
            return self._trade_days.get((symbol, day), lambda: self._make_trade_day(symbol, day))

    def _make_trade_day(self, symbol: str, day: int) -> _TradeDay:
        spec = self._resolve(symbol)
        liq = self._liquidity(spec)
        index = self._index_day(spec.base, day)
        mark = self._path_day(spec.symbol, day).mark
        rng = np.random.default_rng(_key(self.seed, "trades", spec.symbol, day))
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
        typical = _ASSETS[spec.base].daily_vol * index.regime * index.sigma / math.sqrt(MINUTES)
        p_buy = 0.5 + 0.2 * np.tanh(minute_ret / typical)
        buy = u_side < p_buy[minute]
        if spec.last_trading_time_ms is not None:
            keep = (times >= spec.opening_date_ms) & (times < spec.last_trading_time_ms)
            times, buy, z_size = times[keep], buy[keep], z_size[keep]
        node = (times - day * DAY_MS) // STEP_MS
        spread = self.spread_ticks(spec.symbol, times // 1000)
        bid, ask = _quote_ticks(mark[node], spec.tick_size, spread)
        price = np.round(np.where(buy, ask, bid) * spec.tick_size, spec.tick_decimals)
        size = self._to_contracts(spec, liq.trade_usd * np.exp(1.1 * z_size), price)
        notional = size * spec.contract_size if spec.is_inverse else size * price
        opening_day = spec.opening_date_ms // DAY_MS
        return _TradeDay(
            time=times,
            price=price,
            size=size,
            buy=buy,
            first_id=(day - opening_day) * TRADE_ID_STRIDE + 1,
            cum_size=np.concatenate([[0.0], np.cumsum(size)]),
            cum_quote=np.concatenate([[0.0], np.cumsum(notional)]),
        )

    def _day_bars(self, spec: InstrumentSpec, tick_type: TickType, day: int) -> _Bars:
        name = spec.base if tick_type == "spot" else spec.symbol
        with self._lock:
            return self._bars.get(
                (tick_type, name, day), lambda: self._make_day_bars(spec, tick_type, day)
            )

    def _make_day_bars(self, spec: InstrumentSpec, tick_type: TickType, day: int) -> _Bars:
        if tick_type != "trade":
            if tick_type == "mark":
                nodes = self._path_day(spec.symbol, day).mark
            else:
                nodes = self._index_day(spec.base, day).nodes
            grid = nodes[:NODES].reshape(MINUTES, NODES_PER_MINUTE)
            return _Bars(
                grid[:, 0].copy(),
                grid.max(axis=1),
                grid.min(axis=1),
                grid[:, -1].copy(),
                np.zeros(MINUTES),
                np.ones(MINUTES, bool),
            )
        td = self._trade_day(spec.symbol, day)
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
        return _Bars(out[0], out[1], out[2], out[3], volume, has)


_EMPTY_CANDLES = Candles(
    np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.empty(0)
)


def _slice(c: Candles, a: int, b: int) -> Candles:
    return Candles(
        c.time_ms[a:b], c.open[a:b], c.high[a:b], c.low[a:b], c.close[a:b], c.volume[a:b]
    )
