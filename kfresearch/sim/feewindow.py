"""An account's traded volume per fee schedule over a sliding window, kept as fills come.

Fee tiers follow the 30-day traded volume (reference §4.22), asked at every
fill. Scanning the window's fills each time made a fill's cost grow with the
fills of the last 30 days (a backtest trading every minute holds 43,200).
:class:`FeeWindow` keeps two running sums per fee schedule, of the fills
before the window's end and of those before its start, and moves both ends
fill by fill, so each question costs what the window moved since the last.

The sums are exact: every finite float is an integer multiple of
``2**-1074``, so notionals are added as such integers and the result divided
once, which rounds correctly: the same float as ``math.fsum`` of the
window's notionals, whatever the order fills came and went in.

Example
-------
>>> from kfresearch.sim.accounts import Fill
>>> fills = []
>>> window = FeeWindow(fills, 1_000, lambda fill: ("fees", fill.quantity * fill.price))
>>> fills.append(
...     Fill("f1", "o1", None, "PF_XBTUSD", "buy", 0.1, 50_000.0, 0, "taker", 2.5, 0.0005,
...          "USD", "mkt", 0.0)
... )
>>> window.volumes(500), window.volumes(2_000)
({'fees': 5000.0}, {})
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kfresearch.sim.accounts import Fill

__all__ = ["FeeWindow"]

_ONE = 1 << 1074  # 2**1074 units of 2**-1074


def _exact(value: float) -> int:
    """``value`` in units of ``2**-1074`` (exact for every finite float)."""
    numerator, denominator = value.as_integer_ratio()
    return numerator * (_ONE // denominator)


class _Sums:
    """Exact notional per fee schedule of ``fills[:end]``, and how many fills count."""

    __slots__ = ("counts", "end", "totals")

    def __init__(self) -> None:
        self.end = 0
        self.totals: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def move(self, end: int, keys: Sequence[tuple[str, int]]) -> None:
        while self.end < end:
            self._add(keys[self.end], 1)
            self.end += 1
        while self.end > end:
            self.end -= 1
            self._add(keys[self.end], -1)

    def _add(self, key: tuple[str, int], sign: int) -> None:
        uid, amount = key
        self.totals[uid] = self.totals.get(uid, 0) + sign * amount
        self.counts[uid] = self.counts.get(uid, 0) + sign


class FeeWindow:
    """Notional per fee schedule of the fills in ``[end - window_ms, end)``.

    Parameters
    ----------
    fills
        The account's fills, appended in time order (the list is read, never
        changed; fills appended later are picked up).
    window_ms
        Length of the window in milliseconds.
    schedule_of
        A fill's (fee schedule uid, USD notional).
    """

    def __init__(
        self,
        fills: Sequence[Fill],
        window_ms: int,
        schedule_of: Callable[[Fill], tuple[str, float]],
    ) -> None:
        self.fills = fills
        self.window_ms = window_ms
        self._schedule_of = schedule_of
        self._keys: list[tuple[str, int]] = []  # per fill: (schedule uid, exact notional)
        self._before_end = _Sums()
        self._before_start = _Sums()

    def volumes(self, end_ms: int) -> dict[str, float]:
        """USD notional per fee schedule uid of the fills in ``[end_ms - window_ms, end_ms)``;
        schedules without such fills are absent."""
        fills, keys = self.fills, self._keys
        for fill in fills[len(keys) :]:
            uid, notional = self._schedule_of(fill)
            keys.append((uid, _exact(notional)))
        self._before_end.move(_first_at(fills, end_ms, self._before_end.end), keys)
        start = _first_at(fills, end_ms - self.window_ms, self._before_start.end)
        self._before_start.move(start, keys)
        upper, lower = self._before_end, self._before_start
        present = {
            uid for uid, count in upper.counts.items() if count - lower.counts.get(uid, 0) > 0
        }
        # schedules in the order of their latest fill, newest first (as a backward scan finds them)
        newest: list[str] = []
        i = upper.end
        while len(newest) < len(present):
            i -= 1
            if keys[i][0] not in newest:
                newest.append(keys[i][0])
        return {uid: (upper.totals[uid] - lower.totals.get(uid, 0)) / _ONE for uid in newest}


def _first_at(fills: Sequence[Fill], t_ms: int, guess: int) -> int:
    """Index of the first fill at or after ``t_ms``, walking from ``guess`` (a recent answer)."""
    i = min(guess, len(fills))
    while i < len(fills) and fills[i].time_ms < t_ms:
        i += 1
    while i > 0 and fills[i - 1].time_ms >= t_ms:
        i -= 1
    return i
