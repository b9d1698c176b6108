"""plotly charts of kfresearch frames: DataFrame in, ``plotly.graph_objects.Figure`` out.

Charts take the frames of :mod:`kfresearch.frames` (what a
:class:`~kfresearch.Client` returns), never a client, and make no network
calls. All share one template and palette (buy/bid green, sell/ask red; see
:data:`COLORS`), title themselves "symbol · what · environment" from the
frame's ``attrs`` (``symbol=`` and ``title=`` override), label every axis
with its unit, and turn an empty frame into a readable "no data" figure.

>>> import kfresearch
>>> from kfresearch import charts
>>> kf = kfresearch.connect("sim")                              # doctest: +SKIP
>>> charts.candles_chart(kf.candles("PF_XBTUSD", "1h", since="3d"), symbol="PF_XBTUSD")
Figure({...
>>> charts.depth_chart(kf.orderbook("PF_XBTUSD", depth=50)).layout.title.text
'PF_XBTUSD · order book depth · sim'

Market: :func:`candles_chart`, :func:`depth_chart`, :func:`book_heatmap`,
:func:`funding_chart`, :func:`term_structure_chart`, :func:`tickers_overview`,
:func:`trades_chart`. Account: :func:`equity_chart`, :func:`positions_chart`.
Live: :class:`LiveFigure` (a FigureWidget redrawn by a helper). Export:
:func:`save_image` (PNG/SVG/PDF through kaleido and a system Chromium).

plotly is imported here, not by ``import kfresearch``.
"""

from kfresearch.charts._style import COLORS, TEMPLATE, no_data_figure
from kfresearch.charts.account import equity_chart, positions_chart
from kfresearch.charts.export import find_chromium, save_image
from kfresearch.charts.live import LiveFigure
from kfresearch.charts.market import (
    book_heatmap,
    candles_chart,
    depth_chart,
    funding_chart,
    term_structure_chart,
    tickers_overview,
    trades_chart,
)

__all__ = [
    "COLORS",
    "TEMPLATE",
    "LiveFigure",
    "book_heatmap",
    "candles_chart",
    "depth_chart",
    "equity_chart",
    "find_chromium",
    "funding_chart",
    "no_data_figure",
    "positions_chart",
    "save_image",
    "term_structure_chart",
    "tickers_overview",
    "trades_chart",
]


def __dir__() -> list[str]:
    """The chart API (and the module's dunders), not the submodules it comes from."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})
