"""What one download did: fetched, already there, and the gaps the exchange has no data for."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from kfresearch.store.intervals import Range, total

__all__ = ["Summary", "describe_ranges", "span_text"]


def span_text(ms: int) -> str:
    """A duration for people: ``"90 days"``, ``"6 h"``, ``"0"``.

    >>> span_text(90 * 86_400_000), span_text(5_400_000), span_text(0)
    ('90 days', '1.5 h', '0')
    """
    if ms <= 0:
        return "0"
    days = ms / 86_400_000
    if days >= 1:
        if days != int(days):
            return f"{days:.1f} days"
        return f"{days:g} day{'s' if days != 1 else ''}"
    hours = ms / 3_600_000
    if hours >= 1:
        return f"{hours:.3g} h"
    return f"{ms / 60_000:.3g} min"


def describe_ranges(ranges: list[Range], limit: int = 3) -> str:
    """``"2024-01-01 00:00 → 2024-02-01 00:00"`` per range (``limit`` of them, then a count)."""
    if not ranges:
        return "none"

    def stamp(ms: int) -> str:
        return f"{pd.Timestamp(ms, unit='ms', tz='UTC'):%Y-%m-%d %H:%M}"

    parts = [f"{stamp(a)} → {stamp(b)}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"and {len(ranges) - limit} more")
    return "; ".join(parts)


@dataclass
class Summary:
    """The outcome of one download of one series.

    Attributes
    ----------
    series : str
        ``"candles symbol=PF_XBTUSD tick_type=trade resolution=1m"``.
    asked : list of (start ms, end ms)
        The final part of the range asked for (what may be stored).
    fetched : list of (start ms, end ms)
        Ranges fetched from the exchange by this call.
    already : list of (start ms, end ms)
        Ranges that were in the store already (not fetched again).
    gaps : list of (start ms, end ms)
        Ranges of ``asked`` where the exchange has no data.
    rows : int
        Rows written by this call.
    batches : int
        Batches fetched (each is one commit; a batch is one or a few requests).
    """

    series: str
    asked: list[Range] = field(default_factory=list)
    fetched: list[Range] = field(default_factory=list)
    already: list[Range] = field(default_factory=list)
    gaps: list[Range] = field(default_factory=list)
    rows: int = 0
    batches: int = 0

    def __str__(self) -> str:
        return (
            f"{self.series}: fetched {span_text(total(self.fetched))} "
            f"({self.rows:,} rows in {self.batches} batches), "
            f"already there {span_text(total(self.already))}, "
            f"gaps (no data at the exchange): {describe_ranges(self.gaps)}"
        )

    def __repr__(self) -> str:
        return f"<Summary {self}>"
