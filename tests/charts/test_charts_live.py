"""LiveFigure: a FigureWidget redrawn in place, tested without a browser or kernel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import kfresearch
from kfresearch import charts
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

pytest.importorskip("anywidget", reason="plotly's FigureWidget needs anywidget")


@pytest.fixture(scope="module")
def kf() -> Any:
    client = kfresearch.Client(
        "sim", exchange=SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    )
    yield client
    client.close()


def test_starts_as_no_data_and_fills_in(kf: Any) -> None:
    import plotly.graph_objects as go

    live = charts.LiveFigure(charts.depth_chart)
    assert isinstance(live.widget, go.FigureWidget)
    assert live.widget.data == ()
    assert live.widget.layout.annotations[0].text == "no data"
    assert repr(live) == "LiveFigure(depth_chart, traces=0, updates=0)"
    book = kf.orderbook("PF_XBTUSD", depth=10)
    live.update(book)
    assert [t.name for t in live.widget.data] == ["bids", "asks"]
    assert live.widget.data[0].y[-1] == pytest.approx(book[book["side"] == "bid"]["size"].sum())
    assert live.widget.layout.title.text == "PF_XBTUSD · order book depth · sim"
    assert live.widget.layout.xaxis.visible is None
    assert repr(live) == "LiveFigure(depth_chart, traces=2, updates=1)"


def test_same_structure_updates_trace_data_in_place(kf: Any) -> None:
    live = charts.LiveFigure(charts.depth_chart, kf.orderbook("PF_XBTUSD", depth=10))
    widget, traces = live.widget, live.widget.data
    uids = [t.uid for t in traces]
    kf.sim.advance(120_000)
    book = kf.orderbook("PF_XBTUSD", depth=5)
    live.update(book)
    assert live.widget is widget
    assert [t.uid for t in live.widget.data] == uids  # the same trace objects, new data
    asks = book[book["side"] == "ask"]
    np.testing.assert_array_equal(np.asarray(live.widget.data[1].x, dtype=float),
                                  asks["price"].to_numpy())
    assert len(live.widget.data[1].y) == 5
    assert live.widget.layout.shapes[0].x0 == book.attrs["mid"]
    assert len(live.widget.layout.annotations) == 1
    assert live.widget.layout.uirevision == "kfresearch-live"
    assert live.updates == 1


def test_options_are_kept_and_can_change(kf: Any) -> None:
    candles = kf.candles("PF_XBTUSD", "1m", since="2h", progress=False)
    live = charts.LiveFigure(charts.candles_chart, candles.iloc[:60], symbol="PF_XBTUSD",
                             overlays=(10,))
    assert [t.name for t in live.widget.data] == ["price", "SMA 10", "volume"]
    live.update(candles)
    stick = live.widget.data[0]
    assert pd.DatetimeIndex(pd.to_datetime(list(stick.x), utc=True)).equals(candles.index)
    assert live.widget.layout.title.text == "PF_XBTUSD · 1m candles · sim"
    live.update(candles, volume=False)  # structure changes: traces and layout replaced
    assert [t.name for t in live.widget.data] == ["price", "SMA 10"]
    assert "xaxis2" not in live.widget.layout.to_plotly_json()
    live.update(candles.iloc[:0])
    assert live.widget.data == ()
    assert live.widget.layout.annotations[0].text == "no data"
    assert live.updates == 3


def test_order_lines_follow_the_orders(kf: Any) -> None:
    candles = kf.candles("PF_XBTUSD", "1h", since="1d", progress=False)
    near = float(candles["low"].min())  # on the chart: drawn as a line
    orders = pd.DataFrame({"symbol": ["PF_XBTUSD"], "side": ["buy"], "limit_price": [near],
                           "unfilled_size": [0.1], "order_type": ["lmt"]},
                          index=pd.Index(["o1"], name="order_id"))
    live = charts.LiveFigure(charts.candles_chart, candles, orders=orders)
    assert [s.name for s in live.widget.layout.shapes] == ["o1"]
    live.update(candles, orders=orders.iloc[:0])
    assert live.widget.layout.shapes == ()


def test_displays_as_its_widget() -> None:
    live = charts.LiveFigure(charts.trades_chart)
    bundle = live._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
