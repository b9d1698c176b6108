"""The exchange's cost-based rate-limit pools, modelled on the client side (reference §6).

Two pools per key: ``derivatives`` (private ``/derivatives`` calls, 500 cost
units refilling continuously at 500 per 10 s) and ``history`` (private
``/api/history`` calls, 100 tokens refilling at 100 per 10 minutes). Public
endpoints cost nothing.

A request *reserves* its cost before it is sent. When the pool is short the
reservation succeeds anyway and returns how long to wait, so concurrent
callers (threads or tasks) queue up in order instead of racing. When the
server says the budget is gone, :meth:`TokenBucket.exhaust` empties the
bucket so later reservations wait for the refill.

Example
-------
>>> bucket = TokenBucket(capacity=500, per_second=50, clock=lambda: 0.0)
>>> bucket.reserve(500), bucket.reserve(10)
(0.0, 0.2)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["POOLS", "Pool", "RateLimiter", "TokenBucket", "shared_limiter"]

Pool = Literal["derivatives", "history"]

#: (capacity, refill per second) of each pool, from reference §6.
POOLS: dict[str, tuple[float, float]] = {
    "derivatives": (500.0, 50.0),
    "history": (100.0, 100.0 / 600.0),
}


class TokenBucket:
    """A token bucket that may go into debt; debt is the queue's waiting time."""

    def __init__(
        self,
        capacity: float,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(capacity)
        self.per_second = float(per_second)
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.per_second)
        self._updated = now

    def reserve(self, cost: float) -> float:
        """Take ``cost`` tokens; return the seconds to wait before sending (0.0 if none)."""
        if cost <= 0:
            return 0.0
        with self._lock:
            self._refill(self._clock())
            self._tokens -= cost
            return 0.0 if self._tokens >= 0 else -self._tokens / self.per_second

    def exhaust(self, retry_after: float | None = None) -> None:
        """The server said the budget is spent: empty the bucket.

        With ``retry_after`` (the ``rate-limit-reset`` header, seconds), the
        next request waits at least that long.
        """
        with self._lock:
            self._refill(self._clock())
            debt = (retry_after or 0.0) * self.per_second
            self._tokens = min(self._tokens, 0.0, -debt)

    @property
    def available(self) -> float:
        """Tokens available now (negative while requests are queued)."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def __repr__(self) -> str:
        return f"TokenBucket(capacity={self.capacity:g}, per_second={self.per_second:g})"


class RateLimiter:
    """The pools of one key on one server."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.pools: dict[str, TokenBucket] = {
            name: TokenBucket(capacity, rate, clock=clock)
            for name, (capacity, rate) in POOLS.items()
        }

    @classmethod
    def unlimited(cls) -> RateLimiter:
        """A limiter that never waits (for servers without the exchange's limits)."""
        limiter = cls()
        limiter.pools.clear()
        return limiter

    def reserve(self, pool: str | None, cost: float) -> float:
        """Seconds to wait before a request of ``cost`` on ``pool`` (None = free)."""
        bucket = self.pools.get(pool) if pool else None
        return bucket.reserve(cost) if bucket is not None else 0.0

    def level(self, pool: str | None) -> float | None:
        """Units left in ``pool`` now (negative while requests queue); None for a free
        request or a pool this limiter does not keep."""
        bucket = self.pools.get(pool) if pool else None
        return bucket.available if bucket is not None else None

    def exhaust(self, pool: str | None, retry_after: float | None = None) -> None:
        bucket = self.pools.get(pool) if pool else None
        if bucket is not None:
            bucket.exhaust(retry_after)


_SHARED: dict[tuple[str, str], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(base_url: str, key: str) -> RateLimiter:
    """The limiter of ``key`` on ``base_url``, shared by every client in this process.

    The exchange counts the budget per key, so two clients with one key must
    draw from one bucket.
    """
    with _SHARED_LOCK:
        return _SHARED.setdefault((base_url, key), RateLimiter())
