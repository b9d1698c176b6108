"""The simulator's clock: real, fixed or accelerated time, in epoch milliseconds.

Reproducible runs fix the clock (``KFRESEARCH_SIM_NOW``) and the seed
(``KFRESEARCH_SIM_SEED``): the same seed and clock give byte-identical answers.

Example
-------
>>> clock = SimClock.fixed("2026-11-01T00:00:00Z")
>>> clock.now_ms()
1793491200000
>>> clock.advance(60_000); clock.now_ms()
1793491260000
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

__all__ = ["SimClock", "parse_time_ms"]


def parse_time_ms(value: str | int | float | datetime) -> int:
    """Return epoch milliseconds for an ISO string, a datetime or epoch ms/s.

    Naive datetimes and ISO strings without an offset mean UTC. Numbers below
    1e11 are taken as epoch seconds.
    """
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round(dt.timestamp() * 1000)
    if isinstance(value, int | float):
        return int(value * 1000) if abs(value) < 1e11 else int(value)
    text = value.strip()
    if text.lstrip("-").isdigit():
        return parse_time_ms(int(text))
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parse_time_ms(dt)


class SimClock:
    """Time source of the simulator.

    ``mode`` is ``"real"`` (wall clock), ``"fixed"`` (moves only through
    :meth:`advance`) or ``"accelerated"`` (wall clock elapsed since start,
    times ``speed``, added to ``start``). Thread-safe.
    """

    def __init__(self, mode: str = "real", start_ms: int | None = None, speed: float = 1.0) -> None:
        if mode not in {"real", "fixed", "accelerated"}:
            raise ValueError(f"clock mode {mode!r} is not one of real, fixed, accelerated")
        self.mode = mode
        self.speed = float(speed)
        self._lock = threading.Lock()
        self._wall0 = time.time()
        self._start = int(start_ms if start_ms is not None else self._wall0 * 1000)
        self._offset = 0

    @classmethod
    def fixed(cls, at: str | int | datetime) -> SimClock:
        """A clock frozen at ``at`` that moves only by :meth:`advance`."""
        return cls("fixed", parse_time_ms(at))

    @classmethod
    def from_env(cls) -> SimClock:
        """Fixed at ``KFRESEARCH_SIM_NOW`` when set, otherwise real time.

        ``KFRESEARCH_SIM_SPEED`` (a number) makes it an accelerated clock
        starting at ``KFRESEARCH_SIM_NOW`` (or now).
        """
        now = os.environ.get("KFRESEARCH_SIM_NOW")
        speed = os.environ.get("KFRESEARCH_SIM_SPEED")
        if speed:
            return cls("accelerated", parse_time_ms(now) if now else None, float(speed))
        if now:
            return cls.fixed(now)
        return cls("real")

    def now_ms(self) -> int:
        """Current simulated time in epoch milliseconds."""
        # one read of the offset (an int: atomic), so no lock: a backtest asks twice a bar
        offset = self._offset
        if self.mode == "fixed":
            return self._start + offset
        if self.mode == "real":
            return int(time.time() * 1000) + offset
        elapsed = (time.time() - self._wall0) * 1000 * self.speed
        return self._start + int(elapsed) + offset

    def advance(self, ms: int | float) -> int:
        """Move the clock forward by ``ms`` milliseconds; return the new time."""
        if ms < 0:
            raise ValueError("the simulator's clock only moves forward")
        with self._lock:  # two threads advancing at once both count
            self._offset += int(ms)
        return self.now_ms()

    def move_to(self, ms: int) -> None:
        """Set a fixed clock to ``ms`` (epoch ms, not before now), for one thread moving
        through history (a backtest, once a bar).

        Without :meth:`advance`'s lock: an advance from another thread at the same moment
        could be lost, so a clock moved this way must be moved by its one thread only.

        >>> clock = SimClock.fixed(1_793_491_200_000)
        >>> clock.move_to(1_793_491_260_000); clock.now_ms()
        1793491260000
        """
        offset = ms - self._start
        if self.mode != "fixed" or offset < self._offset:
            raise ValueError(
                f"move_to({ms}) needs a fixed clock at or before {ms} (this one is "
                f"{self.mode}, at {self.now_ms()}): use advance() to move another clock"
            )
        self._offset = offset

    def __repr__(self) -> str:
        return f"SimClock(mode={self.mode!r}, now={self.now_ms()})"
