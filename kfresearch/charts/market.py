"""Market charts: candles, depth, book heatmap, funding, term structure, tickers, the tape.

Each helper takes a frame of :mod:`kfresearch.frames` (as a
:class:`~kfresearch.Client` returns it) and gives a
:class:`plotly.graph_objects.Figure`; an empty frame gives the "no data"
figure of :func:`kfresearch.charts.no_data_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kfresearch.charts._layout import (
    WIDTHS,
    dodge,
    place_labels,
    plot_area,
    round_axes,
    text_size,
)
from kfresearch.charts._style import (
    COLORS,
    COLORWAY,
    HEAT_SCALE,
    PRICE_FMT,
    SIZE_FMT,
    TEMPLATE,
    base_figure,
    chart_title,
    finite,
    frame_symbol,
    is_empty,
    no_data_figure,
    resolution_label,
    rgba,
)
from kfresearch.contracts import HOURS_PER_YEAR, kinds, price_unit, settlement_currency, size_unit

__all__ = [
    "book_heatmap",
    "candles_chart",
    "depth_chart",
    "funding_chart",
    "term_structure_chart",
    "tickers_overview",
    "trades_chart",
]

TIME_AXIS = "time (UTC)"
SCATTERGL_ABOVE = 10_000
"""Scatter traces with more points than this use WebGL (``Scattergl``)."""


def _side_mask(frame: pd.DataFrame, side: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "side" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(frame["side"].astype(str).str.lower() == side, dtype=bool)


def _for_symbol(frame: pd.DataFrame | None, symbol: str | None) -> pd.DataFrame | None:
    """Rows of ``frame`` about ``symbol`` (all rows when either does not say)."""
    if frame is None or len(frame) == 0:
        return None
    if symbol and "symbol" in frame.columns:
        keep = frame["symbol"].astype(str).str.upper() == symbol.upper()
        frame = frame[keep.fillna(False).to_numpy(dtype=bool)]
    return frame if len(frame) else None


# --------------------------------------------------------------------------- candles


def candles_chart(
    candles: pd.DataFrame | None,
    *,
    volume: bool = True,
    overlays: Iterable[int | pd.Series] = (20, 50),
    fills: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    rangeslider: bool = False,
    symbol: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Candlesticks with a volume subplot, moving averages, your fills and open orders.

    Parameters
    ----------
    candles : DataFrame
        :func:`kfresearch.frames.candles` (``kf.candles(...)``): index ``time``,
        columns ``open``, ``high``, ``low``, ``close``, ``volume``.
    volume : bool, default True
        Add a volume subplot below (bars coloured by candle direction).
    overlays : iterable of int or Series, default (20, 50)
        An int ``n`` draws the ``n``-candle simple moving average of ``close``
        (skipped when there are fewer than ``n`` candles); a Series indexed
        by time is drawn as given, named by its ``name``.
    fills : DataFrame, optional
        :func:`kfresearch.frames.fills` (``kf.fills()``): buy fills as green
        up-triangles, sell fills as red down-triangles at their time and price.
        Only fills of this chart's symbol when both say which.
    orders : DataFrame, optional
        :func:`kfresearch.frames.open_orders` (``kf.open_orders()``): one
        dashed horizontal line per order at its limit (else stop) price,
        green for buys, red for sells; the line's ``name`` is the order id.
        Each order's label sits in the right margin (moved apart from the
        others, never over the candles). The price axis keeps to the candles
        (their low-high range plus 5 %): an order beyond it draws no line, and
        its label, marked ▲ or ▼, sits at the top or bottom edge.
    rangeslider : bool, default False
        Show plotly's range slider under the bottom axis.
    symbol, title : str, optional
        Override the symbol (else ``attrs["symbol"]``) and the whole title
        (else ``"PF_XBTUSD · 1h candles · sim"``).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces: ``price`` (candlestick), ``SMA n`` …, ``volume``, ``buy fills``,
        ``sell fills`` (those present); order lines in ``layout.shapes`` and
        order labels in ``layout.annotations`` (both named by order id).

    Examples
    --------
    >>> kf = kfresearch.connect("sim")                        # doctest: +SKIP
    >>> fig = candles_chart(kf.candles("PF_XBTUSD", "1h", since="3d"), symbol="PF_XBTUSD",
    ...                     fills=kf.fills(), orders=kf.open_orders())
    >>> fig.layout.title.text
    'PF_XBTUSD · 1h candles · sim'
    >>> [t.name for t in fig.data]
    ['price', 'SMA 20', 'SMA 50', 'volume']
    """
    symbol = symbol or frame_symbol(candles)
    res = resolution_label(candles.index, candles.attrs) if candles is not None else None
    what = f"{res} candles" if res else "candles"
    name = chart_title(candles, what, symbol=symbol, title=title)
    if candles is None or is_empty(candles, ("open", "high", "low", "close")):
        return no_data_figure(name, "a candles frame (open, high, low, close, volume by time)")
    price, unit = price_unit(symbol), size_unit(symbol)
    has_volume = volume and "volume" in candles.columns
    if has_volume:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                            row_heights=[0.76, 0.24])
        where: dict[str, int] = {"row": 1, "col": 1}
    else:
        fig = go.Figure()
        where = {}
    base_figure(fig, title=name, height=620 if has_volume else 480)
    index = candles.index
    close = candles["close"]
    fig.add_trace(
        go.Candlestick(
            x=index, open=candles["open"], high=candles["high"], low=candles["low"],
            close=close, name="price",
            increasing={"line": {"color": COLORS["buy"]}, "fillcolor": COLORS["buy"]},
            decreasing={"line": {"color": COLORS["sell"]}, "fillcolor": COLORS["sell"]},
        ),
        **where,
    )
    for i, overlay in enumerate(overlays):
        if isinstance(overlay, pd.Series):
            series, label = overlay, str(overlay.name or f"overlay {i + 1}")
        else:
            window = int(overlay)
            if window < 1 or window > len(candles):
                continue
            series, label = close.rolling(window).mean(), f"SMA {window}"
        fig.add_trace(
            go.Scatter(x=series.index, y=series.to_numpy(dtype=np.float64), mode="lines",
                       name=label, line={"width": 1.4, "color": COLORWAY[i % len(COLORWAY)]},
                       hovertemplate=f"{label} %{{y:{PRICE_FMT}}} {price}<extra></extra>"),
            **where,
        )
    if has_volume:
        up = (candles["close"] >= candles["open"]).to_numpy(dtype=bool)
        colors = np.where(up, rgba(COLORS["buy"], 0.55), rgba(COLORS["sell"], 0.55))
        fig.add_trace(
            go.Bar(x=index, y=candles["volume"], name="volume", marker={"color": colors},
                   showlegend=False,
                   hovertemplate=f"volume %{{y:{SIZE_FMT}}} {unit}<extra></extra>"),
            row=2, col=1,
        )
        fig.update_yaxes(title_text=f"volume ({unit})", row=2, col=1)
        fig.update_xaxes(title_text=TIME_AXIS, row=2, col=1)
    else:
        fig.update_xaxes(title_text=TIME_AXIS)
    # The price axis is the candles' range: far resting orders and old fills must not
    # flatten the candles (far orders get edge labels instead).
    y_range = _padded(finite(candles["low"]), finite(candles["high"]))
    fig.update_yaxes(title_text=f"price ({price})", range=list(y_range), **where)
    _add_fills(fig, _for_symbol(fills, symbol), where, price, unit)
    _add_orders(fig, _for_symbol(orders, symbol), where, y_range, price, unit)
    fig.update_xaxes(rangeslider_visible=False)
    if rangeslider:
        bottom = {"row": 2, "col": 1} if has_volume else {}
        fig.update_xaxes(rangeslider={"visible": True, "thickness": 0.06}, **bottom)
    fig.update_layout(hovermode="x unified" if len(candles) <= 2000 else "closest")
    return fig


def _padded(low: Any, high: Any, pad: float = 0.05) -> tuple[float, float]:
    """``[min(low), max(high)]`` widened by ``pad`` of its span on each side."""
    lo, hi = float(np.nanmin(low)), float(np.nanmax(high))
    span = hi - lo if hi > lo else max(abs(hi) * 0.01, 1.0)
    return lo - pad * span, hi + pad * span


def _add_fills(fig: Any, fills: pd.DataFrame | None, where: dict[str, int], price: str,
               unit: str) -> None:
    if fills is None or "price" not in fills.columns:
        return
    for side, marker in (("buy", "triangle-up"), ("sell", "triangle-down")):
        rows = fills[_side_mask(fills, side)]
        if not len(rows):
            continue
        sizes = finite(rows["size"]) if "size" in rows.columns else np.full(len(rows), np.nan)
        fig.add_trace(
            go.Scatter(
                x=rows.index, y=rows["price"].to_numpy(dtype=np.float64), mode="markers",
                name=f"{side} fills", customdata=sizes,
                marker={"symbol": marker, "size": 12, "color": COLORS[side],
                        "line": {"width": 1, "color": "white"}},
                hovertemplate=(f"{side} %{{customdata:{SIZE_FMT}}} {unit} @ "
                               f"%{{y:{PRICE_FMT}}} {price}<extra>fill</extra>"),
            ),
            **where,
        )


ORDER_FONT = 10
"""Font size of the open-order labels in the right margin."""


def _add_orders(fig: Any, orders: pd.DataFrame | None, where: dict[str, int],
                y_range: tuple[float, float], price: str, unit: str) -> None:
    """Open orders: a dashed line per order inside ``y_range``, a label per order in the
    right margin (never over the candles), and for orders beyond the range a label at
    the top or bottom edge with an arrow, so they do not stretch the price axis."""
    if orders is None:
        return
    limit = finite(orders["limit_price"]) if "limit_price" in orders.columns else None
    stop = finite(orders["stop_price"]) if "stop_price" in orders.columns else None
    sizes = (finite(orders["unfilled_size"]) if "unfilled_size" in orders.columns
             else np.full(len(orders), np.nan))
    low, high = y_range
    labels: list[tuple[float, str, str, str]] = []  # (level, text, colour, order id)
    for i, order_id in enumerate(orders.index):
        level = np.nan
        if limit is not None and np.isfinite(limit[i]):
            level = limit[i]
        elif stop is not None and np.isfinite(stop[i]):
            level = stop[i]
        if not np.isfinite(level):
            continue
        row = orders.iloc[i]
        side = str(row.get("side", "")).lower()
        kind = row.get("order_type")
        amount = f" {sizes[i]:g} {unit}" if np.isfinite(sizes[i]) else ""
        suffix = f" ({kind})" if isinstance(kind, str) and kind else ""
        text = f"{side}{amount} @ {level:,.8g}{suffix}"
        color = COLORS.get(side, COLORS["neutral"])
        if level > high:
            text = f"▲ {text}"
        elif level < low:
            text = f"▼ {text}"
        else:
            fig.add_hline(y=float(level), name=str(order_id),
                          line={"color": color, "dash": "dash", "width": 1.2}, **where)
        labels.append((float(level), text, color, str(order_id)))
    if not labels:
        return
    # One label per order at its price (far orders at the edge they lie beyond), moved
    # apart vertically where they would overlap; the area's height does not depend on
    # the figure's width, so this holds at any width.
    area = plot_area(fig, WIDTHS[0])
    height = text_size("0", ORDER_FONT)[1]
    wanted = [area.y(min(max(level, low), high)) for level, *_ in labels]
    centres = dodge(wanted, height, area.bottom, area.top)
    for (_, text, color, order_id), centre in zip(labels, centres, strict=True):
        y = low + (centre - area.bottom) / (area.top - area.bottom) * (high - low)
        fig.add_annotation(
            text=text, name=order_id, x=1.0, xref="x domain", xanchor="left", xshift=4,
            y=y, yref="y", yanchor="middle", showarrow=False,
            font={"size": ORDER_FONT, "color": color},
        )
    widest = max(text_size(text, ORDER_FONT)[0] for _, text, _, _ in labels)
    right = max(float(fig.layout.margin.r or TEMPLATE.layout.margin.r), widest + 12.0)
    fig.update_layout(margin={"r": math.ceil(right)})


# --------------------------------------------------------------------------- depth


def depth_chart(
    book: pd.DataFrame | None, *, symbol: str | None = None, title: str | None = None
) -> go.Figure:
    """Cumulative bid and ask depth around the mid, with the mid and spread annotated.

    Parameters
    ----------
    book : DataFrame
        :func:`kfresearch.frames.orderbook` (``kf.orderbook(symbol)``): tidy
        ``side``, ``level``, ``price``, ``size``, ``cum_size``; ``attrs`` mid,
        spread, spread_bps and symbol.
    symbol, title : str, optional
        Overrides for ``attrs["symbol"]`` and the whole title.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces ``bids`` and ``asks``: x the price, y the cumulative size from
        the best level outwards (step lines), so each trace's last y is that
        side's total size. A dotted vertical line at the mid
        (``layout.shapes[0]``) whose annotation gives mid and spread.

    Examples
    --------
    >>> fig = depth_chart(kf.orderbook("PF_XBTUSD", depth=50))
    >>> [t.name for t in fig.data]
    ['bids', 'asks']
    """
    name = chart_title(book, "order book depth", symbol=symbol, title=title)
    if book is None or is_empty(book, ("side", "price", "size")):
        return no_data_figure(name, "an order book frame (side, price, size, cum_size)")
    symbol = symbol or frame_symbol(book)
    price, unit = price_unit(symbol), size_unit(symbol)
    fig = base_figure(title=name, height=460)
    best: dict[str, float] = {}
    for side, label in (("bid", "bids"), ("ask", "asks")):
        rows = book[_side_mask(book, side)]
        if "level" in rows.columns:
            rows = rows.sort_values("level", kind="stable")
        if not len(rows):
            continue
        sizes = rows["size"].to_numpy(dtype=np.float64)
        cum = (rows["cum_size"].to_numpy(dtype=np.float64) if "cum_size" in rows.columns
               else np.nancumsum(sizes))
        prices = rows["price"].to_numpy(dtype=np.float64)
        best[side] = float(prices[0])
        color = COLORS["buy" if side == "bid" else "sell"]
        fig.add_trace(go.Scatter(
            x=prices, y=cum, name=label, mode="lines", line={"color": color, "width": 1.6,
                                                             "shape": "hv"},
            fill="tozeroy", fillcolor=rgba(color, 0.22), customdata=sizes,
            hovertemplate=(f"{side} %{{x:{PRICE_FMT}}} {price}<br>"
                           f"size %{{customdata:{SIZE_FMT}}} {unit}<br>"
                           f"cumulative %{{y:{SIZE_FMT}}} {unit}<extra></extra>"),
        ))
    mid = _attr_float(book, "mid")
    spread = _attr_float(book, "spread")
    if not np.isfinite(mid) and len(best) == 2:
        mid = (best["bid"] + best["ask"]) / 2.0
    if not np.isfinite(spread) and len(best) == 2:
        spread = best["ask"] - best["bid"]
    if np.isfinite(mid):
        bps = spread / mid * 1e4 if np.isfinite(spread) and mid else np.nan
        text = f"mid {mid:,.8g} {price}"
        if np.isfinite(spread):
            text += f"<br>spread {spread:,.8g} {price} ({bps:.2f} bps)"
        fig.add_vline(x=mid, name="mid", line={"color": COLORS["neutral"], "dash": "dot",
                                                "width": 1},
                      annotation={"text": text, "font": {"size": 11}, "align": "center"},
                      annotation_position="top")
    fig.update_xaxes(title_text=f"price ({price})")
    fig.update_yaxes(title_text=f"cumulative size ({unit})", rangemode="tozero")
    fig.update_layout(hovermode="closest")
    return fig


def _attr_float(frame: pd.DataFrame, key: str) -> float:
    value = frame.attrs.get(key)
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


# --------------------------------------------------------------------------- book heatmap


def _snapshot_time(frame: pd.DataFrame) -> Any:
    for key in ("time", "server_time"):
        value = frame.attrs.get(key)
        if value is not None:
            return pd.Timestamp(value)
    return None


def _long_book(
    snapshots: pd.DataFrame | Mapping[Any, pd.DataFrame] | Sequence[pd.DataFrame] | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """All snapshots as one frame with ``time``, ``side``, ``price``, ``size``; and the first."""
    columns = ["time", "side", "price", "size"]
    if snapshots is None:
        return pd.DataFrame(columns=columns), None
    if isinstance(snapshots, pd.DataFrame):
        frame = snapshots
        if "time" not in frame.columns and "time" in (frame.index.names or []):
            frame = frame.reset_index(level="time")
        if "time" not in frame.columns:  # a single snapshot
            return _long_book([snapshots])
        return frame, snapshots
    items: list[tuple[Any, pd.DataFrame]]
    if isinstance(snapshots, Mapping):
        items = [(pd.Timestamp(k), v) for k, v in snapshots.items()]
    else:
        frames = [f for f in snapshots if f is not None]
        stamps = [_snapshot_time(f) for f in frames]
        if any(s is None for s in stamps) or len(set(stamps)) != len(stamps):
            stamps = list(range(len(frames)))  # no usable times: number the snapshots
        items = list(zip(stamps, frames, strict=True))
    parts = [f.assign(time=t)[columns] for t, f in items if len(f)]
    first = items[0][1] if items else None
    if not parts:
        return pd.DataFrame(columns=columns), first
    return pd.concat(parts, ignore_index=True), first


def book_heatmap(
    snapshots: pd.DataFrame | Mapping[Any, pd.DataFrame] | Sequence[pd.DataFrame] | None,
    *,
    price_step: float | None = None,
    symbol: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Order-book liquidity over time: price on y, time on x, resting size as colour.

    Parameters
    ----------
    snapshots : sequence of DataFrame, mapping of time → DataFrame, or DataFrame
        Order book frames (:func:`kfresearch.frames.orderbook`, e.g. from
        polling ``kf.orderbook`` or ``stream.book(symbol).frame()``;
        :func:`kfresearch.stream.live_heatmap` redraws this chart from the
        stream as the book moves). In a sequence each
        snapshot's time is its ``attrs["time"]`` or ``attrs["server_time"]``
        (snapshots are numbered 0, 1, … when those are missing or repeat);
        a mapping gives the times as keys; one long DataFrame needs a
        ``time`` column or index level (``pd.concat(books, keys=times,
        names=["time"])``).
    price_step : float, optional
        Bucket prices to multiples of this step (sizes summed), for books
        with many distinct prices.
    symbol, title : str, optional
        Overrides for the symbol (else the first snapshot's) and the title.

    Returns
    -------
    plotly.graph_objects.Figure
        ``data[0]`` is the heatmap: ``x`` the snapshot times (sorted), ``y``
        the prices (ascending), ``z[i][j]`` the size at price ``y[i]`` at
        time ``x[j]`` (NaN where nothing rested). Then ``best bid``,
        ``best ask`` and ``mid`` lines over time.

    Examples
    --------
    >>> books = []
    >>> for _ in range(30):
    ...     books.append(kf.orderbook("PF_XBTUSD", depth=25))
    ...     _ = kf.sim.advance("1m")            # or: wait a minute on a real market
    >>> fig = book_heatmap(books)
    >>> fig.data[0].type
    'heatmap'
    """
    long, first = _long_book(snapshots)
    symbol = symbol or frame_symbol(first)
    name = chart_title(first, "order book over time", symbol=symbol, title=title)
    if is_empty(long, ("price", "size")):
        return no_data_figure(name, "a sequence of order book frames (side, price, size)")
    price, unit = price_unit(symbol), size_unit(symbol)
    long = long[np.isfinite(finite(long["price"]))]
    prices = long["price"].to_numpy(dtype=np.float64)
    if price_step:
        prices = np.round(prices / price_step) * price_step
    work = pd.DataFrame({"time": long["time"].to_numpy(), "price": prices,
                         "size": long["size"].to_numpy(dtype=np.float64)})
    table = work.pivot_table(index="price", columns="time", values="size", aggfunc="sum",
                             sort=True)
    fig = base_figure(title=name, height=520)
    fig.add_trace(go.Heatmap(
        x=table.columns, y=table.index.to_numpy(dtype=np.float64),
        z=table.to_numpy(dtype=np.float64), name="resting size", colorscale=HEAT_SCALE,
        colorbar={"title": {"text": f"size ({unit})"}}, hoverongaps=False,
        hovertemplate=(f"%{{x}}<br>price %{{y:{PRICE_FMT}}} {price}<br>"
                       f"size %{{z:{SIZE_FMT}}} {unit}<extra></extra>"),
    ))
    sides = long["side"].astype(str).str.lower().to_numpy() if "side" in long.columns \
        else np.full(len(long), None)
    raw = pd.DataFrame({"time": long["time"].to_numpy(), "side": sides,
                        "price": long["price"].to_numpy(dtype=np.float64)})
    bid = raw[raw["side"] == "bid"].groupby("time")["price"].max()
    ask = raw[raw["side"] == "ask"].groupby("time")["price"].min()
    tops = pd.DataFrame({"bid": bid, "ask": ask}).reindex(table.columns)
    for label, series, color, dash in (
        ("best bid", tops["bid"], COLORS["buy"], "solid"),
        ("best ask", tops["ask"], COLORS["sell"], "solid"),
        ("mid", (tops["bid"] + tops["ask"]) / 2.0, COLORS["ink"], "dot"),
    ):
        if series.notna().any():
            fig.add_trace(go.Scatter(
                x=tops.index, y=series.to_numpy(dtype=np.float64), mode="lines", name=label,
                line={"color": color, "width": 1.2, "dash": dash, "shape": "hv"},
                hovertemplate=f"{label} %{{y:{PRICE_FMT}}} {price}<extra></extra>",
            ))
    time_axis = TIME_AXIS if isinstance(table.columns, pd.DatetimeIndex) else "snapshot"
    fig.update_xaxes(title_text=time_axis)
    fig.update_yaxes(title_text=f"price ({price})")
    return fig


# --------------------------------------------------------------------------- funding


def funding_chart(
    funding: pd.DataFrame | None, *, symbol: str | None = None, title: str | None = None
) -> go.Figure:
    """Funding per period and annualised, with the cumulative funding a long position paid.

    Parameters
    ----------
    funding : DataFrame
        :func:`kfresearch.frames.funding_rates` (``kf.funding_rates(symbol)``):
        index ``time``; ``relative_funding_rate`` (fraction per period),
        ``funding_rate`` (absolute), ``funding_rate_annualised`` (fraction per year).
    symbol, title : str, optional
        The frame does not name its perpetual: pass ``symbol`` for the title
        and units, or the whole ``title``.

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: ``funding per period`` bars in % (green when positive: longs
        pay shorts; red when negative) on the left axis, hover in bps and %
        per year too (× periods per year, 24 × 365 for hourly funding); the
        ``annualised, 24-period mean`` line on the right axis. Both axes have
        round ticks on the same gridlines, zero aligned. Row 2: ``paid by a long,
        cumulative`` — the running sum of the relative rate in % of notional
        (a constant-notional long; negative means it was paid), hover with the
        absolute amount per contract.

    Examples
    --------
    >>> fig = funding_chart(kf.funding_rates("PF_XBTUSD", since="7d"), symbol="PF_XBTUSD")
    >>> [t.name for t in fig.data]
    ['funding per period', 'annualised, 24-period mean', 'paid by a long, cumulative']
    """
    name = chart_title(funding, "funding", symbol=symbol, title=title)
    if funding is None or is_empty(funding, ("relative_funding_rate",)):
        return no_data_figure(name, "a funding rates frame (relative_funding_rate by time)")
    symbol = symbol or frame_symbol(funding)
    rel = finite(funding["relative_funding_rate"])
    annual = (finite(funding["funding_rate_annualised"])
              if "funding_rate_annualised" in funding.columns else np.full(len(rel), np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = annual / rel
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    per_year = float(np.median(ratios)) if len(ratios) else float(HOURS_PER_YEAR)
    annual = np.where(np.isfinite(annual), annual, rel * per_year)
    absolute = finite(funding["funding_rate"]) if "funding_rate" in funding.columns \
        else np.full(len(rel), np.nan)
    period = resolution_label(funding.index) or "period"
    abs_unit = settlement_currency(symbol)
    per_contract = f"{abs_unit} per contract" if abs_unit else "per contract"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.55, 0.45], specs=[[{"secondary_y": True}], [{}]])
    base_figure(fig, title=name, height=600)
    index = funding.index
    colors = np.where(rel >= 0, COLORS["buy"], COLORS["sell"])
    fig.add_trace(go.Bar(
        x=index, y=rel * 100.0, name="funding per period", marker={"color": colors},
        customdata=np.column_stack([rel * 1e4, annual * 100.0, absolute]),
        hovertemplate=(f"%{{y:.5f}} % per {period} (%{{customdata[0]:.3f}} bps)<br>"
                       "= %{customdata[1]:.2f} % per year<br>"
                       f"absolute %{{customdata[2]:.6g}} {per_contract}<extra></extra>"),
    ), row=1, col=1, secondary_y=False)
    window = min(24, len(rel))
    smooth = pd.Series(annual).rolling(window, min_periods=1).mean().to_numpy() * 100.0
    fig.add_trace(go.Scatter(
        x=index, y=smooth, name=f"annualised, {window}-period mean", mode="lines",
        line={"color": COLORS["accent"], "width": 1.8},
        hovertemplate=f"{window}-period mean %{{y:.2f}} % per year<extra></extra>",
    ), row=1, col=1, secondary_y=True)
    cum = np.nancumsum(rel) * 100.0
    cum_abs = np.nancumsum(absolute)
    fig.add_trace(go.Scatter(
        x=index, y=cum, name="paid by a long, cumulative", mode="lines",
        line={"color": COLORS["price"], "width": 1.6}, fill="tozeroy",
        fillcolor=rgba(COLORS["price"], 0.12), customdata=cum_abs,
        hovertemplate=("a long paid %{y:.4f} % of notional<br>"
                       f"= %{{customdata:.6g}} {per_contract}<extra></extra>"),
    ), row=2, col=1)
    # Round ticks on both axes, on shared gridlines with zero aligned: bars read on the
    # left, the annualised mean on the right (each bar's annualised value is in its hover).
    left, right = round_axes(rel * 100.0, smooth)
    fig.update_yaxes(title_text=f"funding (% per {period})", row=1, col=1,
                     secondary_y=False, **left)
    fig.update_yaxes(title_text="annualised (% per year)", row=1, col=1, secondary_y=True,
                     showgrid=False, **right)
    fig.update_yaxes(title_text="long paid, cumulative (% of notional)", row=2, col=1)
    fig.update_xaxes(title_text=TIME_AXIS, row=2, col=1)
    fig.update_layout(hovermode="x unified", bargap=0.1)
    return fig


# --------------------------------------------------------------------------- term structure


def term_structure_chart(term: pd.DataFrame | None, *, title: str | None = None) -> go.Figure:
    """Basis and annualised basis across the perpetual and dated contracts.

    Parameters
    ----------
    term : DataFrame
        :func:`kfresearch.frames.term_structure` (``kf.term_structure("XBT")``):
        ``symbol``, ``tag``, ``expiry``, ``days_to_expiry``, ``mark_price``,
        ``index_price``, ``basis``, ``relative_basis`` (fraction), ``basis_annualised``
        and ``funding_rate_annualised`` (fractions per year).
    title : str, optional
        Replaces ``"XBT · term structure · sim"``.

    Returns
    -------
    plotly.graph_objects.Figure
        ``basis`` bars (x the symbols in the frame's order, y ``relative_basis``
        drawn in %), ``annualised basis`` line for dated contracts and ``perpetual
        funding, annualised`` markers (the perpetual's carry), both in % per
        year on the right axis. Hover: expiry, days, mark, index, basis in USD.

    Examples
    --------
    >>> fig = term_structure_chart(kf.term_structure("XBT"))
    >>> list(fig.data[0].x)[:2]
    ['PF_XBTUSD', 'PI_XBTUSD']
    """
    frame = term
    bases: list[str] = []
    if frame is not None and "pair" in frame.columns:
        bases = sorted({str(p).split(":")[0] for p in frame["pair"].dropna()})
    label = bases[0] if len(bases) == 1 else None
    name = chart_title(frame, "term structure", symbol=label, title=title)
    if frame is None or is_empty(frame, ("symbol", "relative_basis")):
        return no_data_figure(name, "a term structure frame (symbol, relative_basis, "
                                    "basis_annualised)")
    frame = frame[frame["relative_basis"].notna().to_numpy(dtype=bool)]
    symbols = frame["symbol"].astype(object).to_numpy()
    price = price_unit(str(symbols[0]))
    days = finite(frame["days_to_expiry"]) if "days_to_expiry" in frame.columns \
        else np.full(len(frame), np.nan)
    expiry = (frame["expiry"].dt.strftime("%Y-%m-%d %H:%M UTC").fillna("perpetual")
              .astype(object).to_numpy() if "expiry" in frame.columns
              else np.full(len(frame), ""))
    columns = [finite(frame[c]) if c in frame.columns else np.full(len(frame), np.nan)
               for c in ("mark_price", "index_price", "basis")]
    custom = np.column_stack([expiry, days, *columns]).astype(object)
    text = [f"{d:.0f} d" if np.isfinite(d) else "" for d in days]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    base_figure(fig, title=name, height=460)
    basis = finite(frame["relative_basis"]) * 100.0
    fig.add_trace(go.Bar(
        x=symbols, y=basis, name="basis", text=text, textposition="outside",
        marker={"color": rgba(COLORS["price"], 0.75)}, customdata=custom,
        hovertemplate=("%{x}<br>expiry %{customdata[0]}<br>days %{customdata[1]:.1f}<br>"
                       f"mark %{{customdata[2]:{PRICE_FMT}}} {price}<br>"
                       f"index %{{customdata[3]:{PRICE_FMT}}} {price}<br>"
                       f"basis %{{customdata[4]:,.2f}} {price} = %{{y:.3f}} %"
                       "<extra></extra>"),
    ), secondary_y=False)
    annual = (finite(frame["basis_annualised"]) * 100.0 if "basis_annualised" in frame.columns
              else np.full(len(frame), np.nan))
    dated = np.isfinite(annual)
    if dated.any():
        fig.add_trace(go.Scatter(
            x=symbols[dated], y=annual[dated], name="annualised basis", mode="lines+markers",
            line={"color": COLORS["accent"], "width": 1.6}, marker={"size": 8},
            hovertemplate="%{x}<br>annualised basis %{y:.2f} % per year<extra></extra>",
        ), secondary_y=True)
    funding = (finite(frame["funding_rate_annualised"]) * 100.0
               if "funding_rate_annualised" in frame.columns else np.full(len(frame), np.nan))
    perp = np.isfinite(funding) & ~dated
    if perp.any():
        fig.add_trace(go.Scatter(
            x=symbols[perp], y=funding[perp], name="perpetual funding, annualised",
            mode="markers", marker={"color": COLORWAY[2], "size": 11, "symbol": "diamond"},
            hovertemplate="%{x}<br>funding %{y:.2f} % per year<extra></extra>",
        ), secondary_y=True)
    left, right = round_axes(basis, np.concatenate([annual[dated], funding[perp]]), pad=0.15)
    fig.update_xaxes(title_text="contract (perpetuals first, then by expiry)", type="category")
    fig.update_yaxes(title_text="basis, mark vs index (%)", secondary_y=False, **left)
    fig.update_yaxes(title_text="annualised (% per year)", secondary_y=True, showgrid=False,
                     **right)
    fig.update_layout(hovermode="closest")
    return fig


# --------------------------------------------------------------------------- tickers


def tickers_overview(
    tickers: pd.DataFrame | None,
    *,
    symbols: Iterable[str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """The market at a glance: 24h change vs volume, funding and spread per contract.

    Parameters
    ----------
    tickers : DataFrame
        :func:`kfresearch.frames.tickers` (``kf.tickers()``): index ``symbol``;
        ``change24h`` (fraction), ``volume_quote`` (24h, USD), ``funding_rate_annualised``
        (fraction per year), ``spread_bps``, ``mark_price``, ``open_interest``.
        Index tickers (no mark price) are left out.
    symbols : iterable of str, optional
        Only these contracts.
    title : str, optional
        Replaces ``"market overview · sim"``.

    Returns
    -------
    plotly.graph_objects.Figure
        ``24h change vs volume``: one marker per contract, x the 24h volume
        in USD (log axis), y the 24h change in %, marker size by open
        interest; hover with mark, change, volume, open interest, funding and
        spread. Each contract is named by an annotation placed clear of the
        other names and markers (with a leader line when it had to move away).
        Below, ``funding, annualised`` bars in % per year
        (perpetuals, highest first) and ``spread`` bars in bps (tightest first).

    Examples
    --------
    >>> fig = tickers_overview(kf.tickers())
    >>> fig.data[0].name
    '24h change vs volume'
    """
    name = chart_title(tickers, "market overview", title=title)
    frame = tickers
    if frame is not None and len(frame) and "mark_price" in frame.columns:
        frame = frame[frame["mark_price"].notna().to_numpy(dtype=bool)]
        if symbols is not None:
            wanted = {s.upper() for s in symbols}
            frame = frame[[str(s).upper() in wanted for s in frame.index]]
    if frame is None or is_empty(frame, ("mark_price",)):
        return no_data_figure(name, "a tickers frame (mark_price, change24h, volume_quote, "
                                    "funding_rate_annualised, spread_bps by symbol)")
    n = len(frame)

    def column(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return finite(frame[name]) if name in frame.columns else np.full(n, np.nan)

    labels = np.asarray([str(s) for s in frame.index], dtype=object)
    change = column("change24h") * 100.0  # fractions, drawn in %
    mark, volume = column("mark_price"), column("volume_quote")
    funding, spread, oi = column("funding_rate_annualised") * 100.0, column("spread_bps"), \
        column("open_interest")
    inverse = kinds(labels) == "inverse"
    oi_usd = np.where(inverse, oi, oi * mark)
    scale = np.sqrt(np.where(np.isfinite(oi_usd) & (oi_usd > 0), oi_usd, 0.0))
    top = scale.max() if len(scale) and scale.max() > 0 else 1.0
    marker_size = 10.0 + 30.0 * scale / top
    fig = make_subplots(rows=2, cols=2, specs=[[{"colspan": 2}, None], [{}, {}]],
                        row_heights=[0.62, 0.38], vertical_spacing=0.14,
                        horizontal_spacing=0.1,
                        subplot_titles=("24h change vs 24h volume (size: open interest)",
                                        "funding, annualised", "spread"))
    base_figure(fig, title=name, height=720)
    custom = np.column_stack([mark, volume, oi_usd, funding, spread])
    fig.add_trace(go.Scatter(
        x=volume, y=change, mode="markers", text=labels,
        name="24h change vs volume", customdata=custom, showlegend=False,
        marker={"size": marker_size, "color": np.where(change >= 0, COLORS["buy"],
                                                       COLORS["sell"]),
                "opacity": 0.75, "line": {"width": 1, "color": "white"}},
        hovertemplate=("<b>%{text}</b><br>mark %{customdata[0]:,.8~g} USD<br>"
                       "24h change %{y:+.2f} %<br>24h volume %{customdata[1]:,.0f} USD<br>"
                       "open interest %{customdata[2]:,.0f} USD<br>"
                       "funding %{customdata[3]:.2f} % per year<br>"
                       "spread %{customdata[4]:.2f} bps<extra></extra>"),
    ), row=1, col=1)
    perp = np.flatnonzero(np.isfinite(funding))
    perp = perp[np.argsort(-funding[perp], kind="stable")]
    fig.add_trace(go.Bar(
        x=labels[perp], y=funding[perp], name="funding, annualised", showlegend=False,
        marker={"color": np.where(funding[perp] >= 0, COLORS["buy"], COLORS["sell"])},
        hovertemplate="%{x}<br>funding %{y:.2f} % per year<extra></extra>",
    ), row=2, col=1)
    quoted = np.flatnonzero(np.isfinite(spread))
    quoted = quoted[np.argsort(spread[quoted], kind="stable")]
    fig.add_trace(go.Bar(
        x=labels[quoted], y=spread[quoted], name="spread", showlegend=False,
        marker={"color": COLORS["neutral"]},
        hovertemplate="%{x}<br>spread %{y:.2f} bps<extra></extra>",
    ), row=2, col=2)
    fig.update_xaxes(title_text="24h volume (USD, log scale)", type="log", row=1, col=1)
    fig.update_yaxes(title_text="24h change (%)", row=1, col=1)
    _label_points(fig, labels, volume, change, marker_size / 2.0)
    fig.update_yaxes(title_text="funding (% per year)", row=2, col=1)
    fig.update_yaxes(title_text="spread (bps)", row=2, col=2)
    fig.update_xaxes(tickangle=-45, row=2)
    fig.update_layout(hovermode="closest")
    return fig


POINT_FONT = 11
"""Font size of the contract labels of the market overview."""


def _label_points(fig: Any, labels: Any, x: Any, y: Any, radii: Any) -> None:
    """Name each marker of the overview's scatter (log x) with an annotation placed
    clear of the other labels and markers at every width of ``WIDTHS``; a label
    that had to move away from its marker gets a thin leader line."""
    drawn = np.flatnonzero(np.isfinite(x) & (x > 0) & np.isfinite(y))
    if not len(drawn):
        return
    log_x = np.log10(x[drawn])
    # fixed ranges, so that label positions can be worked out in pixels
    x_lo, x_hi = float(log_x.min()), float(log_x.max())
    x_pad = max(0.12 * (x_hi - x_lo), 0.3)
    y_lo, y_hi = float(np.min(y[drawn])), float(np.max(y[drawn]))
    y_pad = max(0.15 * (y_hi - y_lo), 0.5)
    fig.update_xaxes(range=[x_lo - x_pad, x_hi + x_pad], row=1, col=1)
    fig.update_yaxes(range=[y_lo - y_pad, y_hi + y_pad], row=1, col=1)
    areas = [plot_area(fig, width) for width in WIDTHS]
    points = [(float(x[i]), float(y[i])) for i in drawn]
    sizes = [text_size(str(labels[i]), POINT_FONT) for i in drawn]
    radius = [float(radii[i]) for i in drawn]
    offsets = place_labels(areas, points, radius, sizes)
    for k, i in enumerate(drawn):
        (ox, oy), (w, h), r = offsets[k], sizes[k], radius[k]
        adjacent = abs(ox) <= w / 2 + r + 3 and abs(oy) <= h / 2 + r + 3
        common = {"text": str(labels[i]), "name": str(labels[i]), "x": float(log_x[k]),
                  "y": float(y[i]), "xref": "x", "yref": "y",
                  "font": {"size": POINT_FONT, "color": COLORS["ink"]}}
        if adjacent:
            fig.add_annotation(**common, showarrow=False, xshift=ox, yshift=oy)
        else:  # plotly's ay grows downwards
            fig.add_annotation(**common, showarrow=True, ax=ox, ay=-oy, arrowhead=0,
                               arrowwidth=0.8, arrowcolor=COLORS["neutral"], standoff=r)


# --------------------------------------------------------------------------- trades


def trades_chart(
    trades: pd.DataFrame | None,
    *,
    bins: int = 40,
    symbol: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """The tape: each trade at its time and price, coloured by taker side, and a volume profile.

    Parameters
    ----------
    trades : DataFrame
        :func:`kfresearch.frames.trades` (``kf.trades(symbol, since="1h")``):
        index ``time``; ``price``, ``size``, ``side`` (the taker's: ``buy``
        lifts the ask, ``sell`` hits the bid).
    bins : int, default 40
        Price buckets of the volume profile.
    symbol, title : str, optional
        Overrides for the symbol (else the frame's ``symbol`` column) and the title.

    Returns
    -------
    plotly.graph_objects.Figure
        Left: ``buy`` and ``sell`` marker traces (x time, y price, marker
        area by size; ``Scattergl`` above 10,000 trades), ``other`` when
        some side is unknown. Right, sharing the price axis: ``buy volume``
        and ``sell volume`` horizontal bars stacked per price bucket (y the
        bucket centres), which add up to the total traded size.

    Examples
    --------
    >>> fig = trades_chart(kf.trades("PF_XBTUSD", since="1h"))
    >>> [t.name for t in fig.data]
    ['buy', 'sell', 'buy volume', 'sell volume']
    """
    name = chart_title(trades, "trades", symbol=symbol, title=title)
    if trades is None or is_empty(trades, ("price", "size")):
        return no_data_figure(name, "a trades frame (price, size, side by time)")
    symbol = symbol or frame_symbol(trades)
    price, unit = price_unit(symbol), size_unit(symbol)
    prices, sizes = finite(trades["price"]), finite(trades["size"])
    ok = np.isfinite(prices) & np.isfinite(sizes)
    buy, sell = _side_mask(trades, "buy") & ok, _side_mask(trades, "sell") & ok
    other = ok & ~buy & ~sell
    top = float(np.sqrt(sizes[ok].max())) if ok.any() and sizes[ok].max() > 0 else 1.0
    marker = 4.0 + 18.0 * np.sqrt(np.clip(np.nan_to_num(sizes), 0, None)) / top
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.8, 0.2],
                        horizontal_spacing=0.015)
    base_figure(fig, title=name, height=520)
    scatter = go.Scattergl if ok.sum() > SCATTERGL_ABOVE else go.Scatter
    groups = [("buy", buy, COLORS["buy"]), ("sell", sell, COLORS["sell"]),
              ("other", other, COLORS["neutral"])]
    for label, mask, color in groups:
        if not mask.any() and label == "other":
            continue
        fig.add_trace(scatter(
            x=trades.index[mask], y=prices[mask], mode="markers", name=label,
            legendgroup=label, customdata=sizes[mask],
            marker={"size": marker[mask], "color": rgba(color, 0.6),
                    "line": {"width": 0}},
            hovertemplate=(f"{label} %{{customdata:{SIZE_FMT}}} {unit} @ "
                           f"%{{y:{PRICE_FMT}}} {price}<br>%{{x}}<extra></extra>"),
        ), row=1, col=1)
    low, high = float(prices[ok].min()), float(prices[ok].max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, max(int(bins), 1) + 1)
    centres = (edges[:-1] + edges[1:]) / 2.0
    for label, mask, color in groups:
        if not mask.any() and label == "other":
            continue
        volume, _ = np.histogram(prices[mask], bins=edges, weights=sizes[mask])
        fig.add_trace(go.Bar(
            x=volume, y=centres, orientation="h", name=f"{label} volume",
            legendgroup=label, showlegend=False, marker={"color": rgba(color, 0.7)},
            width=float(edges[1] - edges[0]),
            hovertemplate=(f"{label} %{{x:{SIZE_FMT}}} {unit}<br>"
                           f"near %{{y:{PRICE_FMT}}} {price}<extra></extra>"),
        ), row=1, col=2)
    fig.update_layout(barmode="stack", hovermode="closest")
    fig.update_xaxes(title_text=TIME_AXIS, row=1, col=1)
    fig.update_xaxes(title_text=f"volume ({unit})", row=1, col=2)
    fig.update_yaxes(title_text=f"price ({price})", row=1, col=1)
    return fig
