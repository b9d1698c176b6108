"""The one look of kfresearch charts: palette, template, titles, units and the "no data" figure.

Every chart helper builds its figure through :func:`base_figure` (or
:func:`no_data_figure` for an empty frame), so colours, fonts, margins and
the title format are decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "COLORS",
    "COLORWAY",
    "HEAT_SCALE",
    "PRICE_FMT",
    "SIZE_FMT",
    "TEMPLATE",
    "TEMPLATE_NAME",
    "base_figure",
    "chart_title",
    "finite",
    "frame_symbol",
    "is_empty",
    "no_data_figure",
    "resolution_label",
    "rgba",
]

COLORS: dict[str, str] = {
    "buy": "#16a34a",  # buy, bid, long, up candle, positive
    "sell": "#dc2626",  # sell, ask, short, down candle, negative
    "price": "#2563eb",  # a price line (mark, close, mid)
    "accent": "#d97706",  # annualised rates, second series
    "neutral": "#6b7280",  # entry prices, reference lines, muted text
    "ink": "#111827",  # text, liquidation
    "grid": "#e5e7eb",
}
"""The palette: buy/bid green, sell/ask red, from this one place."""

COLORWAY: tuple[str, ...] = (
    COLORS["price"],
    COLORS["accent"],
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    COLORS["neutral"],
)
"""Trace colours in order, for series that are neither buy nor sell (overlays)."""

HEAT_SCALE: tuple[tuple[float, str], ...] = (
    (0.0, "#eff6ff"),
    (0.35, "#93c5fd"),
    (0.7, COLORS["price"]),
    (1.0, "#172554"),
)
"""Sequential colour scale for liquidity heatmaps (little → much)."""

PRICE_FMT = ",.8~g"
"""d3 format of prices in hover text: 8 significant digits, no trailing zeros."""
SIZE_FMT = ",.6~g"
"""d3 format of sizes in hover text."""

TEMPLATE_NAME = "kfresearch"


def _make_template() -> Any:
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.update(
        colorway=list(COLORWAY),
        font={"family": "Inter, 'Segoe UI', Helvetica, Arial, sans-serif", "size": 12,
              "color": COLORS["ink"]},
        title={"x": 0.01, "xanchor": "left", "font": {"size": 15}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "right",
                "x": 1.0, "bgcolor": "rgba(255,255,255,0)"},
        margin={"l": 64, "r": 24, "t": 72, "b": 48},
        hoverlabel={"namelength": -1},
        bargap=0.05,
    )
    template.layout.xaxis.update(gridcolor=COLORS["grid"], zeroline=False)
    template.layout.yaxis.update(gridcolor=COLORS["grid"], zeroline=False)
    return template


TEMPLATE: Any = _make_template()
"""The template every chart uses (``plotly_white`` with the palette); also
registered as ``plotly.io.templates["kfresearch"]`` for figures of your own."""
pio.templates[TEMPLATE_NAME] = TEMPLATE


def rgba(color: str, alpha: float) -> str:
    """``"#16a34a"`` and 0.3 → ``"rgba(22,163,74,0.3)"``."""
    code = color.lstrip("#")
    r, g, b = (int(code[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:g})"


# --------------------------------------------------------------------------- frames → titles


def frame_symbol(frame: pd.DataFrame | None) -> str | None:
    """The symbol a frame is about: ``attrs["symbol"]``, else the single value of its
    ``symbol`` column, else None."""
    if frame is None:
        return None
    symbol = frame.attrs.get("symbol")
    if isinstance(symbol, str) and symbol:
        return symbol
    if "symbol" in frame.columns:
        values = pd.unique(frame["symbol"].dropna())
        if len(values) == 1:
            return str(values[0])
    return None


def resolution_label(index: pd.Index, attrs: Mapping[Any, Any] | None = None) -> str | None:
    """``attrs["resolution"]`` or the median spacing of a DatetimeIndex as ``"1h"``, ``"5m"``…"""
    if attrs and isinstance(attrs.get("resolution"), str):
        return str(attrs["resolution"])
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return None
    step = pd.Series(index).diff().median()
    if pd.isna(step):
        return None
    seconds = int(step.total_seconds())
    if seconds <= 0:
        return None
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def chart_title(
    frame: pd.DataFrame | None,
    what: str,
    *,
    symbol: str | None = None,
    title: str | None = None,
) -> str:
    """``"PF_XBTUSD · 1h candles · sim"``: symbol, what, environment (from ``attrs["env"]``).

    An explicit ``title`` wins; an explicit ``symbol`` beats the frame's.
    """
    if title is not None:
        return title
    env = frame.attrs.get("env") if frame is not None else None
    parts = [symbol or frame_symbol(frame), what, env if isinstance(env, str) else None]
    return " · ".join(p for p in parts if p)


def is_empty(frame: pd.DataFrame | None, columns: Sequence[str] = ()) -> bool:
    """True for None, a frame without rows, or one whose ``columns`` are missing or all NaN."""
    if frame is None or len(frame) == 0:
        return True
    for name in columns:
        if name not in frame.columns:
            return True
        if not frame[name].notna().any():
            return True
    return False


# --------------------------------------------------------------------------- figures


def base_figure(fig: Any = None, *, title: str, height: int | None = None) -> Any:
    """Apply the template and title to ``fig`` (a new empty Figure when None)."""
    if fig is None:
        fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title={"text": title})
    if height is not None:
        fig.update_layout(height=height)
    return fig


def no_data_figure(title: str, expected: str) -> go.Figure:
    """A readable empty figure: the title, "no data" in the middle and what was expected.

    Parameters
    ----------
    title : str
        The title the chart would have had.
    expected : str
        What the chart needs, e.g. ``"a candles frame (open, high, low, close,
        volume by time)"``.

    Returns
    -------
    plotly.graph_objects.Figure
        No traces; ``layout.annotations[0].text == "no data"`` and
        ``layout.annotations[1].text == "expected " + expected``.

    Examples
    --------
    >>> fig = no_data_figure("PF_XBTUSD · 1h candles · sim", "a candles frame")
    >>> [a.text for a in fig.layout.annotations]
    ['no data', 'expected a candles frame']
    """
    fig = base_figure(title=title, height=320)
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    fig.update_layout(xaxis=hidden, yaxis=hidden, showlegend=False)
    fig.add_annotation(text="no data", x=0.5, y=0.58, xref="paper", yref="paper",
                       showarrow=False, font={"size": 22, "color": COLORS["neutral"]})
    fig.add_annotation(text=f"expected {expected}", x=0.5, y=0.38, xref="paper", yref="paper",
                       showarrow=False, font={"size": 13, "color": COLORS["neutral"]})
    return fig


def finite(values: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Values as a float64 array (NaN for anything missing)."""
    return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=np.float64)
