"""Figures that update in place: a chart helper redrawn into one ``FigureWidget``.

The stream's live charts (:mod:`kfresearch.stream.charts`: ``live_depth``,
``live_candles``, ``live_heatmap``, ``live_tape``) — or a polling loop —
call :meth:`LiveFigure.update` with each new frame, at most a few times a
second; the chart helper builds a fresh figure and its trace data and layout
are copied into the widget inside one ``batch_update()``, so the browser gets
one message per update and the user's zoom survives (``uirevision``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

__all__ = ["LiveFigure"]

_UIREVISION = "kfresearch-live"


def _structure(fig: Any) -> tuple[Any, ...]:
    """What must match for an in-place update: trace types and axes, and the layout's axes."""
    traces = tuple((t.type, getattr(t, "xaxis", None), getattr(t, "yaxis", None))
                   for t in fig.data)
    layout = fig.layout.to_plotly_json()
    axes = tuple(sorted(k for k in layout if k.startswith(("xaxis", "yaxis"))))
    hidden = bool(layout.get("xaxis", {}).get("visible") is False)
    return traces, axes, hidden


class LiveFigure:
    """A :class:`plotly.graph_objects.FigureWidget` kept up to date by a chart helper.

    Parameters
    ----------
    chart : callable
        One of the chart helpers (``candles_chart``, ``depth_chart``,
        ``book_heatmap`` …), or any ``f(frame, **options) -> Figure``.
    frame : optional
        The first frame; without one the widget starts as the helper's
        "no data" figure.
    **options
        Keyword arguments for ``chart`` on every update (``symbol=``,
        ``volume=`` …).

    Attributes
    ----------
    widget : plotly.graph_objects.FigureWidget
        Display this (or the LiveFigure itself, which shows its widget).
    updates : int
        How many times :meth:`update` has run.

    Examples
    --------
    >>> live = LiveFigure(depth_chart, kf.orderbook("PF_XBTUSD"))
    >>> live.update(kf.orderbook("PF_XBTUSD"))     # e.g. from a stream callback
    >>> live                                        # a notebook shows the widget
    LiveFigure(depth_chart, traces=2, updates=1)
    >>> live.widget.data[0].name
    'bids'
    """

    def __init__(
        self, chart: Callable[..., Any], frame: Any = None, **options: Any
    ) -> None:
        self._chart = chart
        self._options = dict(options)
        self.updates = 0
        figure = chart(frame, **self._options)
        figure.update_layout(uirevision=_UIREVISION)
        self.widget: Any = go.FigureWidget(figure)

    @property
    def chart_name(self) -> str:
        return str(getattr(self._chart, "__name__", type(self._chart).__name__))

    def update(self, frame: Any, **options: Any) -> None:
        """Redraw with ``frame`` (and changed ``options``), in one batch.

        When the new figure has the same traces and axes as the widget (the
        usual case), each trace's data is replaced in place; otherwise (e.g.
        "no data" → data) the traces and layout are replaced.
        """
        self._options.update(options)
        fresh = self._chart(frame, **self._options)
        fresh.update_layout(uirevision=_UIREVISION)
        widget = self.widget
        same = _structure(widget) == _structure(fresh)
        with widget.batch_update():
            if same:
                for old, new in zip(widget.data, fresh.data, strict=True):
                    values = new.to_plotly_json()
                    values.pop("uid", None)
                    for key in old.to_plotly_json():
                        if key not in values and key not in ("uid", "type"):
                            values[key] = None
                    old.update(values, overwrite=True)
                layout = fresh.layout.to_plotly_json()
                layout.pop("template", None)
                for key in ("shapes", "annotations"):
                    layout.setdefault(key, [])
                widget.layout.update(layout, overwrite=True)
            else:
                widget.data = ()
                widget.add_traces(list(fresh.data))
                widget.layout = fresh.layout
        self.updates += 1

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"LiveFigure({self.chart_name}, traces={len(self.widget.data)}, "
                f"updates={self.updates})")
