"""Counter-based randomness: the same numbers for the same ``(key, index)``, in any order.

Every random number of the synthetic market is a pure function of the seed
and what it is for (a coin, a contract, a day, a second), so any instant can
be generated without replaying history. Generated day chunks are kept in
small :class:`LRU` caches, so memory stays bounded whatever range is asked.

>>> key(7, "level", "XBT") == key(7, "level", "XBT")
True
>>> float(uniform(key(7, "x"), np.arange(3))[0]) == float(uniform(key(7, "x"), np.arange(1))[0])
True
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from kfresearch.sim.market.params import F64, I64

__all__ = [
    "LRU",
    "PREMIUM_KERNEL",
    "VOL_KERNEL",
    "key",
    "moving_ar",
    "normal",
    "smooth_kernel",
    "uniform",
    "weekend_factor",
]

T = TypeVar("T")


def key(*parts: object) -> int:
    """A stable 64-bit key for a tuple of ints/strings (Python's hash() is salted)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    # splitmix64 finaliser; uint64 array arithmetic wraps silently, as intended
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(key: int, idx: I64) -> F64:
    """Uniforms in (0, 1) indexed by ``idx`` (int64 array) under ``key``."""
    h = _mix(_mix(np.atleast_1d(idx).astype(np.uint64) ^ np.uint64(key)))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def normal(key: int, idx: I64) -> F64:
    """Standard normals indexed by ``idx`` (Box-Muller on two hashed uniforms)."""
    u1 = uniform(key, idx)
    u2 = uniform(key ^ 0x5DEECE66D1234567, idx)
    out: F64 = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return out


def moving_ar(innovations: F64, rho: float, lags: int) -> F64:
    """``sqrt(1-ρ²) Σ_{j<lags} ρ^j x[t-j]`` for each full window (unit variance for unit x)."""
    kernel = rho ** np.arange(lags, dtype=np.float64)
    out: F64 = np.convolve(innovations, kernel, mode="valid") * math.sqrt(1.0 - rho * rho)
    return out


def smooth_kernel(length: int, decay: float) -> F64:
    """Exponential kernel with unit L2 norm: smoothing white noise keeps unit variance."""
    k = np.exp(-np.arange(length, dtype=np.float64) / decay)
    out: F64 = k / np.sqrt(np.sum(k * k))
    return out


VOL_KERNEL = smooth_kernel(240, 60.0)  # minute log-vol memory ≈ 1 hour
PREMIUM_KERNEL = smooth_kernel(120, 30.0)


def weekend_factor(days: I64) -> F64:
    """0.7 on Saturdays and Sundays (UTC days since the epoch), else 1: quieter weekends."""
    # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays
    out: F64 = np.where((days + 3) % 7 >= 5, 0.7, 1.0)
    return out


class LRU(Generic[T]):
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
