"""Funding of the synthetic market's perpetuals, hour by hour.

The relative rate of an hour is the average premium (mark / index - 1) over
the previous hour divided by ``fundingRateCoefficient``, capped at
``±maxRelativeFundingRate``; it is known when the hour starts. Absolute =
relative × index for linear contracts and relative / index for inverse ones,
with the index at the start of the hour (reference §7.5).
"""

from __future__ import annotations

import threading

import numpy as np

from kfresearch.sim.instruments import HOUR_MS, InstrumentSpec
from kfresearch.sim.market.noise import LRU
from kfresearch.sim.market.params import F64, I64, NODES, STEP_MS, resolve
from kfresearch.sim.market.paths import PricePaths

__all__ = ["Funding"]


class Funding:
    """Hourly funding rates of every perpetual (see the module docstring)."""

    def __init__(self, lock: threading.RLock, paths: PricePaths) -> None:
        self._lock = lock
        self._paths = paths
        self._funding: LRU[tuple[F64, F64]] = LRU(4096)

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
        spec = resolve(symbol)
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
        spec = resolve(symbol)
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
        mark = self._paths.path_day(spec.symbol, day).mark[a:b]
        premium = mark / self._paths.index_day(spec.base, day).nodes[a:b] - 1.0
        relative = self._cap(spec, float(premium.mean()))
        index = self._paths.index(spec.base, now_ms)
        return (relative / index if spec.is_inverse else relative * index), relative

    @staticmethod
    def _cap(spec: InstrumentSpec, premium: float) -> float:
        coefficient = spec.funding_rate_coefficient or 8.0
        cap = spec.max_relative_funding_rate or 0.001
        return float(np.clip(premium / coefficient, -cap, cap))

    def _perpetual(self, symbol: str) -> InstrumentSpec:
        spec = resolve(symbol)
        if not spec.is_perpetual:
            raise ValueError(f"{spec.symbol} is not a perpetual: it has no funding")
        return spec

    def _funding_day(self, spec: InstrumentSpec, day: int) -> tuple[F64, F64]:
        """Absolute and relative rates (float64[24]) of the hours of ``day``."""
        spec = self._perpetual(spec.symbol)

        def make() -> tuple[F64, F64]:
            # hour h of `day` uses the premium of the hour before it: the last
            # hour of the previous day for h = 0
            prev_mark = self._paths.path_day(spec.symbol, day - 1).mark[NODES - 720 : NODES]
            prev_index = self._paths.index_day(spec.base, day - 1).nodes[NODES - 720 : NODES]
            mark = self._paths.path_day(spec.symbol, day).mark[: NODES - 720]
            index = self._paths.index_day(spec.base, day).nodes
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
