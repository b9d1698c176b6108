"""Live charts: drawn from the stream's state, redrawn at most fps times a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest
from stream_helpers import wait_until

import kfresearch
from kfresearch.stream import (
    Stream,
    candles_from_trades,
    live_candles,
    live_depth,
    live_heatmap,
    live_tape,
)

SYMBOL = "PF_XBTUSD"


@pytest.fixture
def s(kf: kfresearch.Client) -> Iterator[Stream]:
    stream = kf.stream()
    stream.subscribe("book", SYMBOL)
    stream.subscribe("trade", SYMBOL)
    yield stream
    stream.close()


def test_depth_follows_the_book(kf: kfresearch.Client, s: Stream) -> None:
    chart = live_depth(s, SYMBOL, depth=10, fps=20)
    assert [t.name for t in chart.widget.data] == ["bids", "asks"]
    kf.sim.advance(5_000)
    s.sync()
    wait_until(lambda: chart.redraws >= 1, what="a redraw")
    book = s.book(SYMBOL).frame(10)
    assert list(chart.widget.data[0].x) == book.loc[book.side == "bid", "price"].tolist()
    assert repr(chart) == f"LiveChart(depth_chart {SYMBOL}, fps=20, redraws={chart.redraws})"


def test_redraws_are_coalesced(s: Stream) -> None:
    chart = live_depth(s, SYMBOL, fps=4)
    runner = s._runner
    assert runner is not None

    async def burst() -> float:
        start = time.monotonic()
        while time.monotonic() - start < 1.5:
            for _ in range(200):  # 200 messages at once, many times a second
                chart._stale(None)  # type: ignore[arg-type]
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        return time.monotonic() - start

    elapsed = runner.call(burst(), timeout=20)
    assert chart.events > 5_000
    # at most fps a second (and the first at once): never one per message, never queued
    assert 2 <= chart.redraws <= 4 * elapsed + 2


def test_candles_from_the_trade_feed(kf: kfresearch.Client, s: Stream) -> None:
    chart = live_candles(s, SYMBOL, "1m", fps=20)
    for _ in range(4):
        kf.sim.advance(60_000)
        s.sync()
    expected = candles_from_trades(s.trades(SYMBOL), "1m")
    wait_until(lambda: len(chart.widget.data[0].x) == len(expected), what="the candles")
    candle = chart.widget.data[0]
    assert candle.type == "candlestick"
    assert np.allclose(candle.close, expected["close"])
    assert expected.attrs["symbol"] == SYMBOL


def test_heatmap_collects_snapshots(kf: kfresearch.Client, s: Stream) -> None:
    chart = live_heatmap(s, SYMBOL, depth=10, fps=50)
    for i in range(3):
        kf.sim.advance(5_000)
        s.sync()
        wait_until(lambda i=i: chart.redraws >= i + 1, what="a redraw")
    heat = chart.widget.data[0]
    assert heat.type == "heatmap"
    assert len(heat.x) >= 3


def test_tape_shows_the_last_trades(kf: kfresearch.Client, s: Stream) -> None:
    chart = live_tape(s, SYMBOL, last=50, fps=20)
    kf.sim.advance(60_000)
    s.sync()
    wait_until(lambda: chart.redraws >= 1, what="a redraw")
    shown = sum(len(t.x) for t in chart.widget.data if t.name in ("buy", "sell"))
    assert shown == min(50, len(s.trades(SYMBOL)))


def test_a_failing_chart_does_not_stop_the_stream(kf: kfresearch.Client, s: Stream) -> None:
    calls = []

    def broken(frame: object, **options: object) -> object:
        calls.append(frame)
        if len(calls) > 1:
            raise ValueError("chart bug")
        from kfresearch.charts import depth_chart

        return depth_chart(None)

    from kfresearch.stream.charts import LiveChart

    LiveChart(s, "book", SYMBOL, lambda: None, broken, fps=50)
    kf.sim.advance(5_000)
    s.sync()
    wait_until(lambda: len(calls) > 1, what="the failing redraw")
    kf.sim.advance(5_000)
    s.sync()
    assert isinstance(s.errors[-1], ValueError)
    assert s.book(SYMBOL).status == "live"


def test_closing_the_stream_stops_the_charts(kf: kfresearch.Client, s: Stream) -> None:
    chart = live_depth(s, SYMBOL, fps=1)
    kf.sim.advance(5_000)
    s.sync()
    s.close()
    assert chart._timer is None
