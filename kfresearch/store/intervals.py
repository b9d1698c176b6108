"""Half-open time ranges ``[start, end)`` in epoch ms, and sets of them (pure functions).

A *range set* is a sorted list of disjoint, non-adjacent ``(start, end)``
pairs. The manifest keeps what is covered as one; what to download is the
difference between what is asked and what is covered.

>>> union([(0, 10)], [(10, 20), (30, 40)])
[(0, 20), (30, 40)]
>>> subtract([(0, 100)], [(10, 20), (50, 60)])
[(0, 10), (20, 50), (60, 100)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["Range", "intersect", "normalise", "split_days", "subtract", "total", "union"]

Range = tuple[int, int]

DAY_MS = 86_400_000


def normalise(ranges: Iterable[Range]) -> list[Range]:
    """Sort, drop empty ranges and merge overlapping or touching ones."""
    out: list[Range] = []
    for start, end in sorted((int(a), int(b)) for a, b in ranges if b > a):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def union(a: Iterable[Range], b: Iterable[Range]) -> list[Range]:
    """Everything in ``a`` or ``b``."""
    return normalise([*a, *b])


def subtract(a: Iterable[Range], b: Iterable[Range]) -> list[Range]:
    """What of ``a`` is not in ``b``."""
    cut = normalise(b)
    out: list[Range] = []
    for start, end in normalise(a):
        for c_start, c_end in cut:
            if c_end <= start or c_start >= end:
                continue
            if c_start > start:
                out.append((start, c_start))
            start = max(start, c_end)
            if start >= end:
                break
        if start < end:
            out.append((start, end))
    return out


def intersect(a: Iterable[Range], b: Iterable[Range]) -> list[Range]:
    """What is in both ``a`` and ``b``."""
    return subtract(a, subtract(a, b))


def total(ranges: Iterable[Range]) -> int:
    """Summed length in ms."""
    return sum(end - start for start, end in normalise(ranges))


def split_days(ranges: Iterable[Range]) -> Iterator[Range]:
    """Cut each range at UTC midnights, so every piece lies within one day.

    >>> list(split_days([(DAY_MS - 5, DAY_MS + 5)]))
    [(86399995, 86400000), (86400000, 86400005)]
    """
    for start, end in normalise(ranges):
        while start < end:
            cut = min(end, (start // DAY_MS + 1) * DAY_MS)
            yield start, cut
            start = cut
