"""Where the charts put things: labels off the data and off each other, axes on what
matters, round ticks. Checked on fig.layout values, in pixels where it matters (at
every width of charts._layout.WIDTHS)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pytest

import kfresearch
from kfresearch import charts
from kfresearch.charts._layout import WIDTHS, Box, dodge, plot_area, round_axes, text_size
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange


@pytest.fixture(scope="module")
def kf() -> Any:
    client = kfresearch.Client(
        "sim", exchange=SimExchange(seed=3, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    )
    yield client
    client.close()


def orders_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"symbol": "PF_XBTUSD", "side": [side for _, side, _ in rows],
         "limit_price": [price for _, _, price in rows], "unfilled_size": 0.1,
         "order_type": "lmt"},
        index=pd.Index([order_id for order_id, _, _ in rows], name="order_id"),
    )


# --------------------------------------------------------------------------- candles


def test_far_orders_keep_the_axis_on_the_candles(kf: Any) -> None:
    candles = kf.candles("PF_XBTUSD", "1h", since="2d", progress=False)
    low, high = float(candles["low"].min()), float(candles["high"].max())
    orders = orders_frame([("near", "buy", low + 5.0), ("above", "sell", high * 2),
                           ("below", "buy", low / 2)])
    fig = charts.candles_chart(candles, orders=orders, symbol="PF_XBTUSD")
    span = high - low
    y_lo, y_hi = fig.layout.yaxis.range
    assert low - 0.06 * span <= y_lo <= low  # the candles fill the height
    assert high <= y_hi <= high + 0.06 * span
    assert [s.name for s in fig.layout.shapes] == ["near"]  # far orders draw no line
    labels = {a.name: a for a in fig.layout.annotations}
    assert labels["above"].text.startswith("▲ sell 0.1 XBT @ ")
    assert labels["below"].text.startswith("▼ buy 0.1 XBT @ ")
    assert high < labels["above"].y <= y_hi  # at the top edge, inside the axis
    assert y_lo <= labels["below"].y < low


def test_order_labels_sit_in_the_margin_apart_from_each_other(kf: Any) -> None:
    candles = kf.candles("PF_XBTUSD", "1h", since="2d", progress=False)
    low, high = float(candles["low"].min()), float(candles["high"].max())
    middle = (low + high) / 2
    # three orders a few dollars apart: their labels would print on top of each other
    orders = orders_frame([("a", "buy", middle), ("b", "buy", middle + 1),
                           ("c", "sell", middle + 2), ("d", "sell", high * 3),
                           ("e", "sell", high * 4)])
    fig = charts.candles_chart(candles, orders=orders, symbol="PF_XBTUSD")
    labels = [a for a in fig.layout.annotations if a.name in set(orders.index)]
    assert len(labels) == 5
    for label in labels:  # left edge on the plot's right edge: never over the candles
        assert (label.xref, label.x, label.xanchor) == ("x domain", 1.0, "left")
        assert label.yref == "y"
    assert fig.layout.margin.r >= max(text_size(a.text, a.font.size)[0] for a in labels)
    area = plot_area(fig, WIDTHS[0])
    height = text_size("0", labels[0].font.size)[1]
    centres = sorted(area.y(a.y) for a in labels)
    assert min(np.diff(centres)) >= height - 1e-6
    assert area.bottom + height / 2 - 1e-6 <= centres[0]
    assert centres[-1] <= area.top - height / 2 + 1e-6


def test_dodge_keeps_order_and_room() -> None:
    assert dodge([10.0, 12.0, 50.0], 10.0, 0.0, 100.0) == [6.0, 16.0, 50.0]
    assert dodge([99.0, 98.0], 10.0, 0.0, 100.0) == [95.0, 85.0]
    assert dodge([], 10.0, 0.0, 100.0) == []
    crowded = dodge([50.0] * 20, 10.0, 0.0, 100.0)  # more than fit: spread evenly
    assert crowded[0] == 5.0
    assert crowded[-1] == 95.0


# --------------------------------------------------------------------------- overview


def label_boxes(fig: Any, width: float) -> dict[str, Box]:
    area = plot_area(fig, width)
    boxes = {}
    for a in fig.layout.annotations:
        if a.xref != "x" or a.yref != "y":
            continue  # subplot titles
        x, y = area.x(10 ** a.x), area.y(a.y)
        dx, dy = (a.ax, -a.ay) if a.showarrow else (a.xshift or 0.0, a.yshift or 0.0)
        w, h = text_size(a.text, a.font.size)
        boxes[a.text] = Box.around(x + dx, y + dy, w, h)
    return boxes


def test_overview_labels_do_not_overlap(kf: Any) -> None:
    tickers = kf.tickers()
    fig = charts.tickers_overview(tickers)
    scatter = fig.data[0]
    assert scatter.mode == "markers"  # names are annotations, placed in Python
    drawn = tickers[tickers["mark_price"].notna()].index
    for width in WIDTHS:
        boxes = label_boxes(fig, width)
        assert set(boxes) == {str(s) for s in drawn}
        area = plot_area(fig, width)
        for name, box in boxes.items():
            assert box.inside(area.box), (width, name)
        clashes = [(a, b) for (a, ba), (b, bb) in combinations(boxes.items(), 2)
                   if ba.overlaps(bb)]
        assert clashes == [], width
        markers = [Box.around(area.x(x), area.y(y), s, s)
                   for x, y, s in zip(scatter.x, scatter.y, scatter.marker.size, strict=True)]
        covered = [(name, k) for name, box in boxes.items()
                   for k, m in enumerate(markers) if box.overlaps(m)]
        assert covered == [], width


def test_overview_labels_stay_apart_when_contracts_crowd() -> None:
    symbols = [f"PF_C{i}USD" for i in range(8)]
    tickers = pd.DataFrame(
        {"mark_price": 1.0, "change24h": [0.0010, 0.0011, 0.0012, 0.0010, 0.0011, 0.0012, 0.001,
                                          0.0011],  # fractions: 0.10 % to 0.12 %
         "volume_quote": [1e6, 1.02e6, 1.04e6, 1.01e6, 1.03e6, 1.05e6, 1.06e6, 1.07e6],
         "open_interest": 1.0, "funding_rate_annualised": 0.1, "spread_bps": 1.0},
        index=pd.Index(symbols, name="symbol"))
    fig = charts.tickers_overview(tickers)
    for width in WIDTHS:
        boxes = label_boxes(fig, width)
        assert len(boxes) == 8
        assert [(a, b) for (a, ba), (b, bb) in combinations(boxes.items(), 2)
                if ba.overlaps(bb)] == []
    assert any(a.showarrow for a in fig.layout.annotations)  # moved away: a leader line


# --------------------------------------------------------------------------- twin axes


@pytest.mark.parametrize(
    ("left", "right"),
    [([0.0011, 0.0062], [-2.0, 18.1]), ([-0.42, 1.14], [-9.58, 25.9]), ([1.0, 2.0], [3.0, 4.0]),
     ([-1.0, -0.2], [5.0, 6.0]), ([0.0, 0.0], [0.0, 0.0])],
)
def test_round_axes_tick_round_on_shared_gridlines(left: list[float],
                                                   right: list[float]) -> None:
    axes = round_axes(left, right)
    grid = []
    for axis, values in zip(axes, (left, right), strict=True):
        step = axis["dtick"]
        mantissa = step / 10 ** np.floor(np.log10(step))
        assert round(mantissa, 9) in {1.0, 2.0, 2.5, 5.0}
        lo, hi = axis["range"]
        assert lo <= min([*values, 0.0])
        assert hi >= max([*values, 0.0])
        assert lo / step == pytest.approx(round(lo / step))
        assert hi / step == pytest.approx(round(hi / step))
        grid.append((round((hi - lo) / step), round(-lo / step)))
    assert grid[0] == grid[1]


def test_funding_and_term_structure_ticks_are_round(kf: Any) -> None:
    fig = charts.funding_chart(kf.funding_rates("PF_XBTUSD", since="7d"), symbol="PF_XBTUSD")
    for axis in (fig.layout.yaxis, fig.layout.yaxis2):
        ticks = np.arange(axis.range[0], axis.range[1] + axis.dtick / 2, axis.dtick)
        # every tick label is short: no 6, 12.1, 18.1
        assert all(len(f"{t:.10g}") <= 7 for t in ticks), ticks
    term = charts.term_structure_chart(kf.term_structure("XBT"))
    assert term.layout.yaxis.tickmode == term.layout.yaxis2.tickmode == "linear"


# --------------------------------------------------------------------------- positions


def test_upnl_label_stays_off_the_entry_marker(kf: Any) -> None:
    kf.place_order("PF_ETHUSD", "buy", 1, "mkt")
    kf.place_order("PF_XBTUSD", "sell", 0.1, "mkt")
    kf.place_order("PI_XBTUSD", "buy", 5000, "mkt")
    positions = kf.positions()
    fig = charts.positions_chart(positions)
    mark = next(t for t in fig.data if t.name == "mark")
    lo, hi = fig.layout.xaxis.range
    for width in WIDTHS:
        pixels = (width - charts.TEMPLATE.layout.margin.l - charts.TEMPLATE.layout.margin.r)

        def px(value: float, pixels: float = pixels) -> float:
            return (value - lo) / (hi - lo) * pixels

        entry = Box.around(px(0.0), 0.0, 3.0, 22.0)  # the entry's vertical line marker
        for x, text, where in zip(mark.x, mark.text, mark.textposition, strict=True):
            w, h = text_size(text, mark.textfont.size)
            vertical, side = where.split()
            start = px(x) + 6.5 if side == "right" else px(x) - 6.5 - w
            y0 = 6.5 if vertical == "top" else -h / 2
            label = Box(start, y0, start + w, y0 + h)
            assert not label.overlaps(entry), (text, where, width)
            assert 0.0 <= label.x0
            assert label.x1 <= pixels  # inside the axis: not cut off
            assert (side == "right") == (x >= 0)  # away from the entry


def test_upnl_label_moves_up_when_the_liquidation_is_in_the_way() -> None:
    positions = pd.DataFrame(
        {"side": ["long"], "size": [1.0], "entry_price": [100.0], "mark_price": [99.0],
         "unrealized_pnl": [-1.0]}, index=pd.Index(["PF_ETHUSD"], name="symbol"))
    fig = charts.positions_chart(positions, liquidation={"PF_ETHUSD": 98.8})
    mark = next(t for t in fig.data if t.name == "mark")
    assert list(mark.textposition) == ["top left"]


# --------------------------------------------------------------------------- surface


def test_dir_shows_the_chart_api_only() -> None:
    public = [name for name in dir(charts) if not name.startswith("_")]
    assert public == sorted(charts.__all__)
    assert "annotations" not in dir(charts)
    assert not hasattr(charts, "annotations")
