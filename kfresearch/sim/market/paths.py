"""Index and mark paths of the synthetic market, one UTC day at a time.

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

Prices are USD; days are UTC days since the epoch.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from kfresearch.sim.market.noise import (
    LRU,
    PREMIUM_KERNEL,
    VOL_KERNEL,
    key,
    moving_ar,
    normal,
    uniform,
    weekend_factor,
)
from kfresearch.sim.market.params import (
    ASSETS,
    DAY_MS,
    F64,
    I64,
    MINUTES,
    NODES,
    NODES_PER_MINUTE,
    STEP_MS,
    YEAR_MS,
    resolve,
)

__all__ = ["IndexDay", "PathDay", "PricePaths"]

# Daily level: every coin wanders about 12 % (one s.d. of log price) around its
# anchor; the more volatile the coin, the faster it reverts (ρ = 1 - (σ/0.12)²/2,
# half-life from ~30 days for XBT to ~8 days for DOGE).
_LEVEL_SD, _LEVEL_LAGS = 0.12, 240
_REGIME_RHO, _REGIME_LAGS, _REGIME_VOL = 0.85, 40, 0.35  # volatility regime
_PREMIUM_RHO, _PREMIUM_LAGS = 0.8, 30
_SINES = ((37.0, 0.05), (97.0, 0.04), (233.0, 0.03))  # (period in days, amplitude of log price)


@dataclass(frozen=True)
class IndexDay:
    """One coin's index over one UTC day."""

    nodes: F64  # (NODES + 1,) index on the 5 s grid; the last node is the next day's first
    sigma: F64  # (MINUTES,) relative minute volatility, mean square 1
    regime: float  # the day's volatility multiplier


@dataclass(frozen=True)
class PathDay:
    """One contract's mark over one UTC day."""

    mark: F64  # (NODES + 1,) mark price on the 5 s grid


class PricePaths:
    """Index and mark of every contract, by UTC day (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed of every random number.
    lock : threading.RLock
        The market's lock (held while a day is generated or looked up).
    cache_days : int
        Day chunks kept per cache.
    """

    def __init__(self, seed: int, lock: threading.RLock, cache_days: int) -> None:
        self.seed = seed
        self._lock = lock
        self._index_days: LRU[IndexDay] = LRU(cache_days)
        self._path_days: LRU[PathDay] = LRU(cache_days)

    def index_day(self, base: str, day: int) -> IndexDay:
        """The index of coin ``base`` over UTC day ``day``."""
        with self._lock:
            return self._index_days.get((base, day), lambda: self._make_index_day(base, day))

    def path_day(self, symbol: str, day: int) -> PathDay:
        """The mark of contract ``symbol`` over UTC day ``day``."""
        with self._lock:
            return self._path_days.get((symbol, day), lambda: self._make_path_day(symbol, day))

    def _levels(self, base: str, days: I64) -> tuple[F64, F64]:
        """Log index level at 00:00 UTC and volatility regime for each day in ``days``.

        Closed form in ``(seed, base, day)``: sinusoids plus moving sums of
        hashed daily shocks (see the module docstring).
        """
        asset = ASSETS[base]
        spec = resolve(f"PF_{base}USD")
        rho = 1.0 - 0.5 * (asset.daily_vol / _LEVEL_SD) ** 2
        lo, hi = int(days.min()), int(days.max())
        # regime on [lo - LEVEL_LAGS + 1, hi] needs shocks from REGIME_LAGS - 1 earlier
        span = np.arange(lo - _LEVEL_LAGS - _REGIME_LAGS + 2, hi + 1, dtype=np.int64)
        g_market = moving_ar(normal(key(self.seed, "regime"), span), _REGIME_RHO, _REGIME_LAGS)
        g_own = moving_ar(normal(key(self.seed, "regime", base), span), _REGIME_RHO, _REGIME_LAGS)
        shock_days = span[_REGIME_LAGS - 1 :]
        weekend = weekend_factor(shock_days)
        regime_market = np.exp(_REGIME_VOL * g_market - 0.5 * _REGIME_VOL**2)
        regime = np.exp(_REGIME_VOL * (0.8 * g_market + 0.6 * g_own) - 0.5 * _REGIME_VOL**2)
        f_market = moving_ar(
            normal(key(self.seed, "level"), shock_days) * regime_market * weekend,
            rho,
            _LEVEL_LAGS,
        )
        f_own = moving_ar(
            normal(key(self.seed, "level", base), shock_days) * regime * weekend,
            rho,
            _LEVEL_LAGS,
        )
        out_days = np.arange(lo, hi + 1, dtype=np.int64)
        scale = _LEVEL_SD
        phases = 2 * np.pi * uniform(key(self.seed, "phase", base), np.arange(len(_SINES)))
        log_level = math.log(spec.anchor_price) + scale * (
            asset.beta * f_market + math.sqrt(1.0 - asset.beta**2) * f_own
        )
        for (period, amplitude), phase in zip(_SINES, phases, strict=True):
            log_level = log_level + amplitude * np.sin(2 * np.pi * out_days / period + phase)
        pick = days - lo
        regime_days = regime[_LEVEL_LAGS - 1 :]
        return log_level[pick], regime_days[pick]

    def _make_index_day(self, base: str, day: int) -> IndexDay:
        asset = ASSETS[base]
        log_level, regimes = self._levels(base, np.array([day, day + 1], dtype=np.int64))
        regime = float(regimes[0])
        # the market stream is drawn identically for every coin (common factor)
        rng_m = np.random.default_rng(key(self.seed, "intraday", day))
        rng_u = np.random.default_rng(key(self.seed, "intraday", base, day))
        z_m, z_u = rng_m.standard_normal(NODES), rng_u.standard_normal(NODES)
        n_kernel = VOL_KERNEL.shape[0]
        noise = 0.75 * rng_m.standard_normal(MINUTES + n_kernel - 1) + 0.66 * rng_u.standard_normal(
            MINUTES + n_kernel - 1
        )
        log_vol = np.convolve(noise, VOL_KERNEL, mode="valid")
        hours = (np.arange(MINUTES) + 0.5) / 60.0
        # busier around the US open, a little around the Asian morning
        season = (
            0.8
            + 0.6 * np.exp(-(((hours - 14.5) / 2.2) ** 2))
            + 0.25 * np.exp(-(((hours - 2.0) / 2.0) ** 2))
        )
        sigma = season * np.exp(0.45 * log_vol)
        sigma = sigma / np.sqrt(np.mean(sigma * sigma))
        weekend = float(weekend_factor(np.array([day], dtype=np.int64))[0])
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
        return IndexDay(nodes=np.exp(x), sigma=sigma, regime=regime)

    def _premium_levels(self, symbol: str, days: I64) -> F64:
        """Perpetual premium (fraction) at 00:00 UTC of each day: a few basis points."""
        lo, hi = int(days.min()), int(days.max())
        span = np.arange(lo - _PREMIUM_LAGS + 1, hi + 1, dtype=np.int64)
        ar = moving_ar(normal(key(self.seed, "premium", symbol), span), _PREMIUM_RHO, _PREMIUM_LAGS)
        phase = 2 * np.pi * float(uniform(key(self.seed, "premium-phase", symbol), span[:1])[0])
        out_days = np.arange(lo, hi + 1)
        # a basis point or two on average: hourly funding of order 1e-5 relative
        mean = 0.0002 if symbol.startswith("PI_") else 0.00015
        level = mean + 0.00015 * np.sin(2 * np.pi * out_days / 19.0 + phase) + 0.00015 * ar
        out: F64 = level[days - lo]
        return out

    def _bridged_noise(self, name: str, day: int, scale: float) -> F64:
        """Smoothed minute noise (MINUTES + 1 values) that is 0 at both day ends."""
        rng = np.random.default_rng(key(self.seed, name, day))
        n_kernel = PREMIUM_KERNEL.shape[0]
        q = np.convolve(rng.standard_normal(MINUTES + n_kernel), PREMIUM_KERNEL, mode="valid")
        frac = np.arange(MINUTES + 1) / MINUTES
        out: F64 = scale * (q - frac * q[-1] - (1 - frac) * q[0])
        return out

    def _make_path_day(self, symbol: str, day: int) -> PathDay:
        spec = resolve(symbol)
        index = self.index_day(spec.base, day)
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
                * float(uniform(key(self.seed, "basis", spec.symbol), np.zeros(1, np.int64))[0])
            )
            basis_days = np.array([day, day + 1], dtype=np.float64)
            basis = 0.06 + 0.025 * np.sin(2 * np.pi * basis_days / 23.0 + phase)
            annual = np.interp(node_axis / MINUTES, [0.0, 1.0], basis)
            noise = np.interp(
                node_axis, minute_axis, self._bridged_noise(f"basis:{spec.symbol}", day, 0.0003)
            )
            premium = annual * tau + noise * np.minimum(1.0, np.sqrt(tau * 12.0))
            premium[times >= expiry] = 0.0  # settled at the index
        return PathDay(mark=index.nodes * (1.0 + premium))

    def mark(self, symbol: str, t_ms: int) -> float:
        """Mark price (USD) of contract ``symbol`` at ``t_ms``: the 5 s node in force."""
        day, node = divmod(int(t_ms) // STEP_MS, NODES)
        return float(self.path_day(resolve(symbol).symbol, day).mark[node])

    def index(self, base: str, t_ms: int) -> float:
        """Spot index (USD) of coin ``base`` at ``t_ms``: the 5 s node in force."""
        day, node = divmod(int(t_ms) // STEP_MS, NODES)
        return float(self.index_day(base, day).nodes[node])
