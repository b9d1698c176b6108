"""Live charts: a chart helper redrawn from the stream into one ``FigureWidget``.

Each chart listens to a feed and marks itself stale on every message; a
timer on the stream's loop redraws it at most ``fps`` times a second with the
latest state. Redraws are coalesced, never queued: a burst of 10,000 book
deltas costs one redraw, not 10,000. Drawing is
:class:`kfresearch.charts.LiveFigure` (in-place trace updates, the user's
zoom kept).

================  ==========  ================================================
chart             feed        draws
================  ==========  ================================================
:func:`live_depth`    book    ``depth_chart`` of the book's top ``depth`` levels
:func:`live_candles`  trade   ``candles_chart`` of candles built from trades
:func:`live_heatmap`  book    ``book_heatmap`` of the last ``window`` redraws
:func:`live_tape`     trade   ``trades_chart`` of the last ``last`` trades
================  ==========  ================================================

Example
-------
>>> depth = live_depth(s, "PF_XBTUSD")     # display it: the last line of a cell
>>> depth                                  # doctest: +SKIP
LiveChart(depth_chart PF_XBTUSD, fps=4, redraws=0)
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from functools import partial, update_wrapper
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.charts import LiveFigure, book_heatmap, candles_chart, depth_chart, trades_chart
from kfresearch.stream.candles import candles_from_trades

if TYPE_CHECKING:
    from kfresearch.stream.delivery import Message
    from kfresearch.stream.stream import Stream

__all__ = ["LiveChart", "live_candles", "live_depth", "live_heatmap", "live_tape"]

log = logging.getLogger("kfresearch.stream")


class LiveChart:
    """A :class:`~kfresearch.charts.LiveFigure` redrawn from the stream, coalesced.

    Parameters
    ----------
    stream : Stream
    feed, symbol : str
        The messages that make it stale.
    frame : callable
        Makes the chart's input from the stream's current state.
    chart : callable
        The chart helper (``depth_chart`` …); ``**options`` go to it.
    fps : float
        At most this many redraws a second.

    Attributes
    ----------
    widget : plotly.graph_objects.FigureWidget
    redraws : int
        Redraws done (not counting the first draw).
    events : int
        Messages that made it stale.
    """

    def __init__(
        self,
        stream: Stream,
        feed: str,
        symbol: str,
        frame: Callable[[], Any],
        chart: Callable[..., Any],
        *,
        fps: float = 4.0,
        **options: Any,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.symbol = symbol.upper()
        self.fps = float(fps)
        self.events = 0
        self.redraws = 0
        self._stream = stream
        self._frame = frame
        self._figure = LiveFigure(chart, frame(), **options)
        self._timer: asyncio.TimerHandle | None = None
        self._next_at = 0.0
        self._off = stream.on(feed, self._stale, symbol=self.symbol, initial=True)
        stream._closers.append(self.close)

    @property
    def widget(self) -> Any:
        return self._figure.widget

    def _stale(self, message: Message) -> None:
        """On the stream's loop: schedule one redraw, unless one is already due."""
        self.events += 1
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._next_at - loop.time())
        self._timer = loop.call_later(wait, self._redraw)

    def _redraw(self) -> None:
        self._timer = None
        self._next_at = asyncio.get_running_loop().time() + 1.0 / self.fps
        try:
            self._figure.update(self._frame())
        except Exception as exc:  # a chart failure must not stop the stream
            log.exception("live chart %r could not redraw", self)
            self._stream._hub.error(exc)
            return
        self.redraws += 1

    def redraw(self) -> None:
        """Redraw now (from the stream's loop thread or when the stream is idle)."""
        self._figure.update(self._frame())
        self.redraws += 1

    def close(self) -> None:
        """Stop redrawing (the widget keeps its last picture)."""
        self._off()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self._figure._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            # the widget's own text holds random trace ids: a saved notebook keeps this instead
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return (f"LiveChart({self._figure.chart_name} {self.symbol}, fps={self.fps:g}, "
                f"redraws={self.redraws})")


def live_depth(stream: Stream, symbol: str, *, depth: int = 50, fps: float = 4.0) -> LiveChart:
    """The cumulative depth of ``symbol``'s live book (subscribe to ``book`` first)."""
    book = stream.book(symbol)
    return LiveChart(stream, "book", symbol, lambda: book.frame(depth), depth_chart, fps=fps)


def live_candles(
    stream: Stream, symbol: str, resolution: str = "1m", *, fps: float = 4.0, **options: Any
) -> LiveChart:
    """Candles of ``symbol`` built from the trade feed (subscribe to ``trade`` first);
    ``options`` go to ``candles_chart`` (``volume=``, ``overlays=`` …)."""
    name = symbol.upper()
    stream.trades(name)  # raises a clear error when not subscribed

    def frame() -> pd.DataFrame:
        return candles_from_trades(stream.trades(name), resolution)

    options.setdefault("overlays", ())
    chart = update_wrapper(partial(candles_chart, symbol=name), candles_chart)
    return LiveChart(stream, "trade", name, frame, chart, fps=fps, **options)


def live_heatmap(
    stream: Stream, symbol: str, *, depth: int = 25, window: int = 120, fps: float = 2.0,
    price_step: float | None = None,
) -> LiveChart:
    """Resting size by price over time: a book snapshot per redraw, the last ``window``."""
    book = stream.book(symbol)
    shots: deque[pd.DataFrame] = deque(maxlen=window)

    def frame() -> list[pd.DataFrame]:
        shot = book.frame(depth)
        stamp = shot.attrs.get("server_time")
        if len(shot) and (not shots or shots[-1].attrs.get("server_time") != stamp):
            shots.append(shot)
        return list(shots)

    return LiveChart(stream, "book", symbol, frame, book_heatmap, fps=fps, price_step=price_step)


def live_tape(stream: Stream, symbol: str, *, last: int = 500, fps: float = 4.0) -> LiveChart:
    """The last ``last`` trades of ``symbol`` with their volume profile."""
    name = symbol.upper()
    stream.trades(name)

    def frame() -> pd.DataFrame:
        return stream.trades(name).tail(last)

    return LiveChart(stream, "trade", name, frame, trades_chart, fps=fps)
