"""Charts of strategy runs and sweeps: equity with drawdowns, fills on candles, costs, heatmaps.

Figures take a :class:`~kfresearch.strategy.Result` (or a sweep's frame) and
use kfresearch's chart template and palette (:mod:`kfresearch.charts`).

Example
-------
>>> result.equity_chart()                                                 # doctest: +SKIP
>>> sweep_heatmap(table, "fast", "slow", "sharpe")                        # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kfresearch.charts import COLORS, TEMPLATE, candles_chart, no_data_figure

if TYPE_CHECKING:
    from kfresearch.strategy.result import Result

__all__ = ["costs_chart", "equity_chart", "fills_chart", "sweep_heatmap"]

_TIME = "time (UTC)"


def _title(result: Result, what: str) -> str:
    return f"{', '.join(result.symbols)} · {what} · {result.mode}"


def equity_chart(result: Result, *, title: str | None = None) -> go.Figure:
    """Equity (USD) over time, its running peak dotted, and the drawdown (%) shaded below.

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: traces ``equity``, ``peak``; row 2: ``drawdown`` in percent.
    """
    name = title or _title(result, "equity")
    equity = result.equity
    if equity.empty:
        return no_data_figure(name, "a run with at least one bar")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        vertical_spacing=0.04)
    peak = equity["equity_usd"].cummax()
    fig.add_trace(go.Scatter(x=equity.index, y=equity["equity_usd"], name="equity",
                             line={"color": COLORS["price"]},
                             hovertemplate="%{y:,.2f} USD<extra>equity</extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=equity.index, y=peak, name="peak",
                             line={"color": COLORS["neutral"], "dash": "dot", "width": 1},
                             hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(x=equity.index, y=equity["drawdown"] * 100, name="drawdown",
                             fill="tozeroy", line={"color": COLORS["sell"], "width": 1},
                             hovertemplate="%{y:.2f} %<extra>drawdown</extra>"), row=2, col=1)
    fig.update_layout(template=TEMPLATE, title={"text": name}, height=480,
                      hovermode="x unified")
    fig.update_yaxes(title_text="equity (USD)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown (%)", row=2, col=1)
    fig.update_xaxes(title_text=_TIME, row=2, col=1)
    return fig


def _coarser(candles: pd.DataFrame, max_candles: int) -> pd.DataFrame:
    """Candles aggregated to a whole number of minutes so at most ``max_candles`` remain."""
    if len(candles) <= max_candles or len(candles) < 2:
        return candles
    step = pd.Timedelta(int(np.median(np.diff(pd.DatetimeIndex(candles.index).asi8))), unit="ns")
    factor = int(np.ceil(len(candles) / max_candles))
    rule = step * factor
    out = candles.resample(rule).agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    ).dropna(subset=["close"])
    out.attrs = dict(candles.attrs)
    return out


def fills_chart(result: Result, symbol: str | None = None, *, max_candles: int = 1500) -> go.Figure:
    """The strategy's fills (buys green up, sells red down) on the candles it traded.

    Long runs are drawn on coarser candles (at most ``max_candles``); every
    fill is drawn at its own time and price.
    """
    name = (symbol or result.symbols[0]).upper()
    candles = result.candles.get(name)
    if candles is None:
        raise KeyError(f"the run traded {', '.join(result.symbols)}, not {name}")
    fills = result.fills[result.fills["symbol"] == name]
    return candles_chart(
        _coarser(candles, max_candles),
        volume=False,
        overlays=(),
        fills=fills,
        symbol=name,
        title=f"{name} · fills on candles · {result.mode}",
    )


def costs_chart(result: Result, *, title: str | None = None) -> go.Figure:
    """Where the PnL went: gross PnL, minus fees, minus funding, equals net (USD waterfall)."""
    stats = result.stats
    gross, fees, funding = (float(stats[k]) for k in ("gross_pnl_usd", "fees_usd", "funding_usd"))
    fig = go.Figure(go.Waterfall(
        x=["gross PnL", "fees", "funding", "net PnL"],
        measure=["absolute", "relative", "relative", "total"],
        y=[gross, -fees, -funding, 0.0],
        text=[f"{v:+,.2f}" for v in (gross, -fees, -funding, gross - fees - funding)],
        increasing={"marker": {"color": COLORS["buy"]}},
        decreasing={"marker": {"color": COLORS["sell"]}},
        totals={"marker": {"color": COLORS["price"]}},
        connector={"line": {"color": COLORS["neutral"], "width": 1}},
    ))
    fig.update_layout(template=TEMPLATE, title={"text": title or _title(result, "costs")},
                      yaxis_title="USD", showlegend=False, height=380)
    return fig


def sweep_heatmap(
    table: pd.DataFrame, x: str, y: str, value: str = "sharpe", *, title: str | None = None
) -> go.Figure:
    """One statistic of a sweep over two of its parameters, as a heatmap.

    Parameters
    ----------
    table : DataFrame
        :func:`~kfresearch.strategy.sweep`'s answer (a parameter column each, a
        statistic column each).
    x, y : str
        Parameter columns for the axes. Other parameters are averaged over.
    value : str
        Statistic column (default ``"sharpe"``).
    """
    for column in (x, y, value):
        if column not in table.columns:
            raise KeyError(f"{column!r} is not a column of the sweep (has {list(table.columns)})")
    grid = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index()
    fig = go.Figure(go.Heatmap(
        x=[str(c) for c in grid.columns], y=[str(i) for i in grid.index], z=grid.to_numpy(),
        colorscale="RdYlGn", zmid=0.0 if value != "max_drawdown" else None,
        colorbar={"title": {"text": value}},
        hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{value}=%{{z:,.4g}}<extra></extra>",
        texttemplate="%{z:.3g}",
    ))
    fig.update_layout(template=TEMPLATE, title={"text": title or f"sweep · {value}"},
                      xaxis_title=x, yaxis_title=y, height=420)
    return fig
