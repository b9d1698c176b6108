"""Layout decisions made in Python: label sizes, the plot area in pixels, labels placed
clear of each other and of the data, and round ticks for twin axes.

plotly lays text out in the browser, after Python has built the figure, so the
charts estimate: a label is about ``CHAR_WIDTH`` × font size per character wide
and ``LINE_HEIGHT`` × font size high, and a figure without a width is drawn at
least :data:`WIDTHS`\\ [0] pixels wide (plotly's default is 700). A placement is
accepted only when it is free at every width of :data:`WIDTHS`, so widening the
notebook does not make labels collide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CHAR_WIDTH",
    "LINE_HEIGHT",
    "WIDTHS",
    "Box",
    "PlotArea",
    "dodge",
    "nice_step",
    "place_labels",
    "plot_area",
    "round_axes",
    "text_size",
]

CHAR_WIDTH = 0.62
"""Average character width in font sizes (symbols and digits in Inter/Helvetica)."""
LINE_HEIGHT = 1.3
"""Line height in font sizes."""
WIDTHS: tuple[int, ...] = (700, 950, 1300)
"""Figure widths (px) a label placement must work at: plotly's default and wider notebooks."""


def text_size(text: str, font_size: float) -> tuple[float, float]:
    """Estimated ``(width, height)`` in pixels of one line of ``text`` (tags not counted)."""
    plain = text.replace("<b>", "").replace("</b>", "")
    lines = plain.split("<br>")
    width = max(len(line) for line in lines) * CHAR_WIDTH * font_size
    return width, len(lines) * LINE_HEIGHT * font_size


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels, y growing upwards."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def around(cls, x: float, y: float, width: float, height: float) -> Box:
        return cls(x - width / 2, y - height / 2, x + width / 2, y + height / 2)

    def overlaps(self, other: Box, gap: float = 0.0) -> bool:
        return (self.x0 < other.x1 + gap and other.x0 < self.x1 + gap
                and self.y0 < other.y1 + gap and other.y0 < self.y1 + gap)

    def inside(self, other: Box) -> bool:
        return (self.x0 >= other.x0 and self.x1 <= other.x1
                and self.y0 >= other.y0 and self.y1 <= other.y1)


@dataclass(frozen=True)
class PlotArea:
    """One subplot in pixels at one figure size, with its axis ranges.

    ``x(value)`` and ``y(value)`` map data to pixels (log axes take the data
    value, not its logarithm); an axis left to autorange has no range and
    cannot map.
    """

    left: float
    right: float
    bottom: float
    top: float
    x_range: tuple[float, float] | None
    y_range: tuple[float, float] | None
    x_log: bool = False

    def x(self, value: float) -> float:
        if self.x_range is None:
            raise ValueError("the x axis has no explicit range")
        v = math.log10(value) if self.x_log else value
        lo, hi = self.x_range
        return self.left + (v - lo) / (hi - lo) * (self.right - self.left)

    def y(self, value: float) -> float:
        if self.y_range is None:
            raise ValueError("the y axis has no explicit range")
        lo, hi = self.y_range
        return self.bottom + (value - lo) / (hi - lo) * (self.top - self.bottom)

    @property
    def box(self) -> Box:
        return Box(self.left, self.bottom, self.right, self.top)


def plot_area(fig: Any, width: float, xaxis: str = "xaxis", yaxis: str = "yaxis") -> PlotArea:
    """The pixel rectangle of the subplot on ``xaxis``/``yaxis`` of ``fig`` drawn
    ``width`` pixels wide, with the axes' explicit ranges (log axes: in log10 units)."""
    layout = fig.layout
    template = layout.template.layout if layout.template is not None else None

    def margin(side: str, default: float) -> float:
        for source in (layout.margin, template.margin if template is not None else None):
            value = getattr(source, side, None) if source is not None else None
            if value is not None:
                return float(value)
        return default

    height = float(layout.height or 450)
    left, right = margin("l", 80), width - margin("r", 80)
    bottom, top = margin("b", 80), height - margin("t", 100)
    x_axis, y_axis = layout[xaxis], layout[yaxis]
    xd = x_axis.domain or (0.0, 1.0)
    yd = y_axis.domain or (0.0, 1.0)
    return PlotArea(
        left=left + xd[0] * (right - left), right=left + xd[1] * (right - left),
        bottom=bottom + yd[0] * (top - bottom), top=bottom + yd[1] * (top - bottom),
        x_range=_range(x_axis.range),
        y_range=_range(y_axis.range),
        x_log=x_axis.type == "log",
    )


def _range(values: Any) -> tuple[float, float] | None:
    return None if values is None else (float(values[0]), float(values[1]))


# --------------------------------------------------------------------------- placing

# Directions from a point to its label (x, y): above, below, right, left, then the corners;
# tried next to the marker first, then one and two label heights further out.
_DIRECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1),
)
_REACHES: tuple[int, ...] = (0, 1, 2)


def place_labels(
    areas: Sequence[PlotArea],
    points: Sequence[tuple[float, float]],
    radii: Sequence[float],
    sizes: Sequence[tuple[float, float]],
    *,
    gap: float = 2.0,
) -> list[tuple[float, float]]:
    """Offsets ``(dx, dy)`` in pixels (y up) that put each label next to its point.

    Parameters
    ----------
    areas : sequence of PlotArea
        The same subplot at each width of :data:`WIDTHS`.
    points : sequence of (x, y)
        Data coordinates of the points.
    radii : sequence of float
        Marker radius of each point, pixels: labels keep off every marker.
    sizes : sequence of (width, height)
        Label sizes in pixels (:func:`text_size`).

    Returns
    -------
    list of (dx, dy)
        Per label, from the point to the label's centre. Labels are placed
        largest marker first; each takes the first candidate position (above,
        below, right, left, the corners, then further out) that is inside the
        plot and clear of the labels and markers placed so far at every width;
        when none is clear, the one with the least overlap.
    """
    n = len(points)
    pixels = [[(a.x(px), a.y(py)) for px, py in points] for a in areas]
    markers = [[Box.around(x, y, 2 * r, 2 * r) for (x, y), r in zip(row, radii, strict=True)]
               for row in pixels]
    placed: list[list[Box]] = [[] for _ in areas]
    offsets: list[tuple[float, float]] = [(0.0, 0.0)] * n
    for i in sorted(range(n), key=lambda k: -radii[k]):
        w, h = sizes[i]
        best, best_cost = (0.0, 0.0), math.inf
        for ox, oy in _candidates(w, h, radii[i] + gap):
            cost = 0.0
            for a, area in enumerate(areas):
                x, y = pixels[a][i]
                box = Box.around(x + ox, y + oy, w, h)
                if not box.inside(area.box):
                    cost += 1e6
                cost += sum(_overlap(box, other) for other in placed[a])
                cost += sum(_overlap(box, m) for j, m in enumerate(markers[a]) if j != i)
            if cost < best_cost:
                best, best_cost = (ox, oy), cost
            if cost == 0.0:
                break
        offsets[i] = best
        for a in range(len(areas)):
            x, y = pixels[a][i]
            placed[a].append(Box.around(x + best[0], y + best[1], w, h))
    return offsets


def _candidates(width: float, height: float, clearance: float) -> list[tuple[float, float]]:
    """Label-centre offsets around a marker, nearest first."""
    out = []
    for reach in _REACHES:
        extra = reach * 1.5 * height
        for ux, uy in _DIRECTIONS:
            out.append((ux * (width / 2 + clearance + extra),
                        uy * (height / 2 + clearance + extra)))
    return out


def _overlap(a: Box, b: Box) -> float:
    dx = min(a.x1, b.x1) - max(a.x0, b.x0)
    dy = min(a.y1, b.y1) - max(a.y0, b.y0)
    return dx * dy if dx > 0 and dy > 0 else 0.0


def dodge(positions: Sequence[float], height: float, low: float, high: float) -> list[float]:
    """Move 1-D label centres (pixels) apart by at least ``height``, keeping them in
    ``[low + height/2, high − height/2]`` and as close to where they were as the
    room allows; the order of the labels is kept.

    Examples
    --------
    >>> dodge([10.0, 12.0, 50.0], 10.0, 0.0, 100.0)
    [6.0, 16.0, 50.0]
    """
    if not positions:
        return []
    order = sorted(range(len(positions)), key=lambda k: positions[k])
    want = [float(positions[k]) for k in order]
    lo, hi = low + height / 2, high - height / 2
    if (len(want) - 1) * height > hi - lo:  # too many: spread evenly over the room
        step = (hi - lo) / max(len(want) - 1, 1)
        spread = [lo + k * step for k in range(len(want))]
        return [spread[order.index(k)] for k in range(len(positions))]
    # clusters: labels closer than ``height`` share a block centred on their mean
    blocks: list[list[float]] = []  # [start, count, sum of wanted]
    for value in want:
        blocks.append([value, 1, value])
        while len(blocks) > 1:
            prev, last = blocks[-2], blocks[-1]
            last[0] = min(max(last[2] / last[1] - (last[1] - 1) * height / 2, lo),
                          hi - (last[1] - 1) * height)
            if prev[0] + prev[1] * height <= last[0]:
                break
            merged = [0.0, prev[1] + last[1], prev[2] + last[2]]
            merged[0] = min(max(merged[2] / merged[1] - (merged[1] - 1) * height / 2, lo),
                            hi - (merged[1] - 1) * height)
            blocks[-2:] = [merged]
        if len(blocks) == 1:
            only = blocks[0]
            only[0] = min(max(only[2] / only[1] - (only[1] - 1) * height / 2, lo),
                          hi - (only[1] - 1) * height)
    placed = [start + k * height for start, count, _ in blocks for k in range(int(count))]
    result = [0.0] * len(positions)
    for rank, k in enumerate(order):
        result[k] = placed[rank]
    return result


# --------------------------------------------------------------------------- round ticks

_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k that is ≥ ``raw`` (> 0)."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in _NICE:
        step = factor * power
        if step >= raw * (1 - 1e-12):
            return step
    return 10.0 * power  # pragma: no cover - 10 is the last factor


def round_axes(
    left: Any, right: Any, *, pad: float = 0.06, intervals: tuple[int, ...] = (4, 5, 6)
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ranges and ticks for two y axes side by side: both round, gridlines shared.

    Each axis gets ticks at multiples of its own round step (1, 2, 2.5, 5 ×
    10^k) and both axes have the same number of intervals with zero on the
    same gridline, so every gridline reads a round value on either side.

    Parameters
    ----------
    left, right : array-like
        Values drawn against each axis (NaN ignored); zero is always inside.
    pad : float
        Room kept beyond the data, as a fraction of its span.
    intervals : tuple of int
        Numbers of tick intervals to try; the one wasting least room wins.

    Returns
    -------
    (dict, dict)
        ``range``, ``tick0`` (0) and ``dtick`` for ``fig.update_yaxes`` of
        each axis.

    Examples
    --------
    >>> a, b = round_axes([0.0011, 0.0062], [-2.0, 18.1])
    >>> a["range"], a["dtick"], b["range"], b["dtick"]
    ([-0.002, 0.008], 0.002, [-5.0, 20.0], 5.0)
    """
    spans = []
    for values in (left, right):
        data = np.asarray(values, dtype=np.float64).ravel()
        data = data[np.isfinite(data)]
        lo = min(0.0, float(data.min())) if len(data) else 0.0
        hi = max(0.0, float(data.max())) if len(data) else 1.0
        if hi == lo:
            hi = lo + 1.0
        width = hi - lo
        spans.append((lo - pad * width if lo < 0 else lo, hi + pad * width if hi > 0 else hi))
    best: tuple[float, int, int, list[float]] | None = None
    for n in intervals:
        for below in range(n + 1):
            above = n - below
            steps: list[float] = []
            for lo, hi in spans:
                need = max(hi / above if above else (math.inf if hi > 0 else 0.0),
                           -lo / below if below else (math.inf if lo < 0 else 0.0))
                steps.append(nice_step(need) if math.isfinite(need) else math.inf)
            if not all(math.isfinite(s) for s in steps):
                continue
            waste = sum(1.0 - (hi - lo) / (n * s) for (lo, hi), s in zip(spans, steps,
                                                                          strict=True))
            if best is None or waste < best[0] - 1e-9:
                best = (waste, n, below, steps)
    assert best is not None  # noqa: S101 - n=4 with zero at either end always fits
    _, n, below, steps = best
    axes = tuple(
        {"range": [_clean(-below * s), _clean((n - below) * s)], "tick0": 0.0,
         "dtick": _clean(s), "tickmode": "linear"}
        for s in steps
    )
    return axes[0], axes[1]


def _clean(value: float) -> float:
    """Strip float noise from a multiple of a round step (0.30000000000000004 → 0.3)."""
    return float(f"{value:.12g}") + 0.0
