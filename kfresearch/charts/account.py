"""Account charts: equity and PnL over time, open positions against their prices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kfresearch.charts._layout import WIDTHS, text_size
from kfresearch.charts._style import (
    COLORS,
    PRICE_FMT,
    TEMPLATE,
    base_figure,
    chart_title,
    finite,
    is_empty,
    no_data_figure,
    rgba,
)
from kfresearch.contracts import price_unit, settlement_currency, size_unit

__all__ = ["equity_chart", "positions_chart"]

TIME_AXIS = "time (UTC)"


# --------------------------------------------------------------------------- equity


def _cash_rows(log: pd.DataFrame, asset: str, account: str | None) -> pd.DataFrame:
    keep = np.ones(len(log), dtype=bool)
    if "is_position_leg" in log.columns:
        keep &= ~log["is_position_leg"].fillna(False).to_numpy(dtype=bool)
    if "asset" in log.columns:
        keep &= (log["asset"].astype(str).str.lower() == asset.lower()).fillna(False) \
            .to_numpy(dtype=bool)
    if account is not None and "margin_account" in log.columns:
        keep &= (log["margin_account"].astype(str).str.lower() == account.lower()) \
            .fillna(False).to_numpy(dtype=bool)
    return log[keep]


def _balance(rows: pd.DataFrame) -> pd.Series:
    """Balance over time summed over the wallets in ``rows``; the first point is the
    opening balance (the first entries' old balances), so the first change shows as a step."""
    wallet = (rows["margin_account"].astype(object).fillna("") if "margin_account"
              in rows.columns else pd.Series("", index=rows.index))
    columns: list[pd.Series] = []
    openings: list[float] = []
    for i, name in enumerate(pd.unique(wallet.to_numpy())):
        mine = rows[(wallet == name).to_numpy(dtype=bool)]
        new = pd.Series(finite(mine["new_balance"]), index=mine.index, name=i)
        new = new.groupby(level=0, sort=True).last()
        opening = finite(mine["old_balance"])[0] if "old_balance" in mine.columns else np.nan
        columns.append(new)
        openings.append(float(opening) if np.isfinite(opening) else float(new.iloc[0]))
    table = pd.concat(columns, axis=1).sort_index().ffill()
    table = table.fillna(pd.Series(openings, index=table.columns))
    total: pd.Series = table.sum(axis=1)
    head = pd.Series([sum(openings)], index=total.index[:1])
    combined: pd.Series = pd.concat([head, total])
    return combined


def equity_chart(
    account_log: pd.DataFrame | None,
    *,
    unrealised: float | pd.Series | None = None,
    asset: str = "usd",
    account: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Account value, balance, realised PnL, fees, funding and unrealised PnL over time.

    Parameters
    ----------
    account_log : DataFrame
        :func:`kfresearch.frames.account_log` (``kf.account_log()``): index
        ``time``; cash rows (``is_position_leg`` False) of ``asset`` give the
        balance (``old_balance``/``new_balance``) and the ``realized_pnl``,
        ``fee`` and ``realized_funding`` of each entry.
    unrealised : float or Series, optional
        Unrealised PnL in ``asset``, which the ledger does not record: a
        number for now (the sum of ``kf.positions()["unrealized_pnl"]`` over
        the positions whose PnL is in ``asset``), drawn at the log's
        ``attrs["server_time"]`` when it has one, else at its last entry; or
        a Series by time (naive times are UTC), e.g. the flex ``pnl`` of
        ``kf.accounts()`` polled, or
        ``pd.Series([upnl], index=[pos.attrs["server_time"]])``. The account
        value is balance + unrealised where unrealised is known.
    asset : str, default "usd"
        The currency whose balance is drawn (``"xbt"`` for an inverse wallet).
    account : str, optional
        Only this wallet (``"flex"``, ``"fi_xbtusd"``); by default all wallets
        holding ``asset`` are added up.
    title : str, optional
        Replaces ``"equity (USD) · sim"``.

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: ``balance`` (step line from the first entry's old balance to
        each new balance) and ``account value`` when ``unrealised`` is given.
        Row 2: running sums ``realised PnL`` (gross of fees), ``fees`` (paid,
        negative), ``funding`` (realised; negative when paid), and
        ``unrealised PnL`` when given.

    Examples
    --------
    >>> _ = kf.request("POST", "/derivatives/api/v3/sendorder", {"orderType": "mkt",
    ...                "symbol": "PF_XBTUSD", "side": "buy", "size": 0.1})
    >>> _ = kf.sim.advance("1h")                            # an hour: funding is paid
    >>> pos = kf.positions()   # USD PnL: leave out inverse positions (PnL in coin)
    >>> upnl = pos.loc[~pos["is_inverse"], "unrealized_pnl"].sum()
    >>> fig = equity_chart(kf.account_log(), unrealised=upnl)
    >>> [t.name for t in fig.data]
    ['balance', 'account value', 'realised PnL', 'fees', 'funding', 'unrealised PnL']
    """
    unit = asset.upper()
    name = chart_title(account_log, f"equity ({unit})", title=title)
    rows = None
    if account_log is not None and len(account_log) and "new_balance" in account_log.columns:
        rows = _cash_rows(account_log, asset, account)
        rows = rows[np.isfinite(finite(rows["new_balance"]))]
    if rows is None or is_empty(rows, ("new_balance",)):
        return no_data_figure(name, f"an account log frame with {unit} balance entries "
                                    "(new_balance, realized_pnl, fee by time)")
    balance = _balance(rows)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.55, 0.45])
    base_figure(fig, title=name, height=600)
    fig.add_trace(go.Scatter(
        x=balance.index, y=balance.to_numpy(dtype=np.float64), name="balance", mode="lines",
        line={"color": COLORS["neutral"], "width": 1.6, "shape": "hv"},
        hovertemplate=f"balance %{{y:,.2f}} {unit}<extra></extra>",
    ), row=1, col=1)
    upnl = _unrealised(unrealised, account_log, rows)
    if upnl is not None:
        both = pd.concat([balance.rename("b"), upnl.rename("u")], axis=1).sort_index()
        both["b"] = both["b"].ffill()
        both["u"] = both["u"].ffill()
        value = (both["b"] + both["u"]).dropna()
        labels = [""] * len(value)
        if labels:
            labels[-1] = f"{value.iloc[-1]:,.2f} {unit}"
        fig.add_trace(go.Scatter(
            x=value.index, y=value.to_numpy(dtype=np.float64), name="account value",
            mode="lines+markers+text", line={"color": COLORS["price"], "width": 2},
            marker={"size": 8}, text=labels, textposition="top left", cliponaxis=False,
            hovertemplate=f"account value %{{y:,.2f}} {unit}<extra></extra>",
        ), row=1, col=1)
    times = rows.index

    def running(column: str, sign: float = 1.0) -> np.ndarray[Any, np.dtype[np.float64]]:
        if column not in rows.columns:
            return np.zeros(len(rows))
        return sign * np.nancumsum(finite(rows[column]))

    for label, values, color in (
        ("realised PnL", running("realized_pnl"), COLORS["buy"]),
        ("fees", running("fee", -1.0), COLORS["sell"]),
        ("funding", running("realized_funding"), COLORS["accent"]),
    ):
        fig.add_trace(go.Scatter(
            x=times, y=values, name=label, mode="lines",
            line={"color": color, "width": 1.5, "shape": "hv"},
            hovertemplate=f"{label} %{{y:,.4f}} {unit}<extra></extra>",
        ), row=2, col=1)
    if upnl is not None:
        fig.add_trace(go.Scatter(
            x=upnl.index, y=upnl.to_numpy(dtype=np.float64), name="unrealised PnL",
            mode="lines+markers", line={"color": COLORS["price"], "width": 1.5, "dash": "dot"},
            hovertemplate=f"unrealised PnL %{{y:,.4f}} {unit}<extra></extra>",
        ), row=2, col=1)
    fig.update_yaxes(title_text=f"value ({unit})", row=1, col=1)
    fig.update_yaxes(title_text=f"cumulative ({unit})", row=2, col=1)
    fig.update_xaxes(title_text=TIME_AXIS, row=2, col=1)
    fig.update_layout(hovermode="x unified")
    return fig


def _unrealised(
    unrealised: float | pd.Series | None, log: pd.DataFrame | None, rows: pd.DataFrame
) -> pd.Series | None:
    if unrealised is None:
        return None
    if isinstance(unrealised, pd.Series):
        index = pd.DatetimeIndex(unrealised.index)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        series = pd.Series(finite(unrealised), index=index)
        series = series[np.isfinite(series.to_numpy())]
        return series.sort_index() if len(series) else None
    value = float(unrealised)
    if not np.isfinite(value):
        return None
    when = log.attrs.get("server_time") if log is not None else None
    stamp = pd.Timestamp(when) if when is not None else rows.index.max()
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    stamp = max(stamp, rows.index.max())
    return pd.Series([value], index=pd.DatetimeIndex([stamp]))


# --------------------------------------------------------------------------- positions


def _liquidation_prices(
    positions: pd.DataFrame, liquidation: Mapping[str, float] | pd.Series | None
) -> np.ndarray[Any, np.dtype[np.float64]]:
    n = len(positions)
    if liquidation is not None:
        given = {str(k).upper(): v for k, v in dict(liquidation).items()}
        return finite([given.get(str(s).upper(), np.nan) for s in positions.index])
    for column in ("liquidation_price", "liquidation_threshold"):
        if column in positions.columns:
            return finite(positions[column])
    return np.full(n, np.nan)


def positions_chart(
    positions: pd.DataFrame | None,
    *,
    liquidation: Mapping[str, float] | pd.Series | None = None,
    title: str | None = None,
) -> go.Figure:
    """Open positions: entry, mark and liquidation price, as distance from the entry.

    Every contract gets one row; the x axis is the price relative to the
    entry in %, so contracts of any price level compare at a glance, and the
    hover gives the prices themselves.

    Parameters
    ----------
    positions : DataFrame
        :func:`kfresearch.frames.positions` (``kf.positions()``): index
        ``symbol``; ``side``, ``size`` (signed), ``entry_price``,
        ``mark_price``, ``unrealized_pnl``.
    liquidation : mapping or Series of symbol → price, optional
        Liquidation prices, which ``/openpositions`` does not send (the
        WebSocket ``open_positions`` feed does). A ``liquidation_price`` or
        ``liquidation_threshold`` column of the frame is used otherwise.
    title : str, optional
        Replaces ``"open positions · sim"``.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces ``entry`` (x 0, customdata the entry price), ``mark`` (x =
        100 × (mark / entry − 1), green in profit, red at a loss, text the
        unrealised PnL beside the mark on the side away from the entry (above
        it when the liquidation marker is in the way), customdata the mark
        price, side and size),
        ``liquidation`` (same scale, when known), and a grey segment from
        entry to mark. y is the symbol; its tick label adds side and size.

    Examples
    --------
    >>> _ = kf.request("POST", "/derivatives/api/v3/sendorder", {"orderType": "mkt",
    ...                "symbol": "PF_ETHUSD", "side": "buy", "size": 1})
    >>> fig = positions_chart(kf.positions(), liquidation={"PF_ETHUSD": 1450.0})
    >>> [t.name for t in fig.data]
    ['entry to mark', 'entry', 'mark', 'liquidation']
    """
    name = chart_title(positions, "open positions", title=title)
    if positions is None or is_empty(positions, ("entry_price",)):
        return no_data_figure(name, "a positions frame (side, size, entry_price, mark_price "
                                    "by symbol)")
    frame = positions[np.isfinite(finite(positions["entry_price"]))]
    symbols = [str(s) for s in frame.index]
    n = len(frame)

    def column(*names: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        for col in names:
            if col in frame.columns and frame[col].notna().any():
                return finite(frame[col])
        return np.full(n, np.nan)

    entry = column("entry_price")
    mark = column("mark_price")
    size = column("size")
    upnl = column("unrealized_pnl")
    liq = _liquidation_prices(frame, liquidation)
    with np.errstate(divide="ignore", invalid="ignore"):
        mark_pct = (mark / entry - 1.0) * 100.0
        liq_pct = (liq / entry - 1.0) * 100.0
    sides = [str(s) if isinstance(s, str) else ("long" if sz >= 0 else "short")
             for s, sz in zip(frame["side"] if "side" in frame.columns else [None] * n, size,
                              strict=True)]
    units = [size_unit(s) for s in symbols]
    pnl_units = [settlement_currency(s) for s in symbols]
    prices = [price_unit(s) for s in symbols]
    held = [f"{side} {abs(sz):g} {u}" if np.isfinite(sz) else side
            for side, sz, u in zip(sides, size, units, strict=True)]
    text = [_pnl_text(p, pu) for p, pu in zip(upnl, pnl_units, strict=True)]
    fig = base_figure(title=name, height=200 + 70 * n)
    seg_x: list[float | None] = []
    seg_y: list[str | None] = []
    for sym, m in zip(symbols, mark_pct, strict=True):
        if np.isfinite(m):
            seg_x += [0.0, float(m), None]
            seg_y += [sym, sym, None]
    fig.add_trace(go.Scatter(
        x=seg_x, y=seg_y, mode="lines", name="entry to mark", showlegend=False,
        line={"color": COLORS["neutral"], "width": 3}, hoverinfo="skip",
    ))
    fig.add_trace(go.Scatter(
        x=np.zeros(n), y=symbols, mode="markers", name="entry",
        customdata=np.column_stack([entry, np.asarray(prices, dtype=object)]).astype(object),
        marker={"symbol": "line-ns-open", "size": 22, "line": {"width": 3},
                "color": COLORS["ink"]},
        hovertemplate=f"%{{y}}<br>entry %{{customdata[0]:{PRICE_FMT}}} %{{customdata[1]}}"
                      "<extra></extra>",
    ))
    in_profit = np.where(np.isfinite(upnl), upnl >= 0, np.sign(size) * mark_pct >= 0)
    lo, hi = _x_range(mark_pct, liq_pct, text)
    positions_ = _text_positions(mark_pct, liq_pct, text, (lo, hi))
    fig.add_trace(go.Scatter(
        x=mark_pct, y=symbols, mode="markers+text", name="mark", text=text,
        textposition=positions_, textfont={"size": PNL_FONT}, cliponaxis=False,
        customdata=np.column_stack([mark, np.asarray(prices, dtype=object),
                                    np.asarray(held, dtype=object)]).astype(object),
        marker={"size": 13, "color": np.where(in_profit, COLORS["buy"], COLORS["sell"]),
                "line": {"width": 1, "color": "white"}},
        hovertemplate=(f"%{{y}}<br>mark %{{customdata[0]:{PRICE_FMT}}} %{{customdata[1]}}"
                       " (%{x:+.2f} % from entry)<br>%{customdata[2]}<br>%{text}"
                       "<extra></extra>"),
    ))
    if np.isfinite(liq).any():
        fig.add_trace(go.Scatter(
            x=liq_pct, y=symbols, mode="markers", name="liquidation",
            customdata=np.column_stack([liq, np.asarray(prices, dtype=object)]).astype(object),
            marker={"symbol": "x-thin-open", "size": 16, "line": {"width": 3},
                    "color": COLORS["ink"]},
            hovertemplate=(f"%{{y}}<br>liquidation %{{customdata[0]:{PRICE_FMT}}} "
                           "%{customdata[1]} (%{x:+.2f} % from entry)<extra></extra>"),
        ))
    fig.add_vline(x=0.0, line={"color": rgba(COLORS["neutral"], 0.5), "width": 1})
    fig.update_xaxes(title_text="price vs entry (%)", zeroline=False, range=[lo, hi])
    fig.update_yaxes(title_text="", type="category", autorange="reversed",
                     tickvals=symbols,
                     ticktext=[f"<b>{sym}</b><br>{h}" for sym, h in zip(symbols, held,
                                                                         strict=True)])
    fig.update_layout(hovermode="closest")
    return fig


_FIAT = ("USD", "EUR", "GBP", "USDT", "USDC", "")
PNL_FONT = 11
"""Font size of the uPnL labels."""
MARK_RADIUS = 6.5
"""Half the mark marker's size (13 px), where its label starts."""


def _plot_width() -> float:
    """Pixels of the x axis at the narrowest width labels are laid out for."""
    margin = TEMPLATE.layout.margin
    return float(WIDTHS[0] - margin.l - margin.r)


def _x_range(mark_pct: Any, liq_pct: Any, text: list[str]) -> tuple[float, float]:
    """The x range (% from entry): every marker inside, and room beside each mark for
    its uPnL label on the side away from the entry."""
    span = np.concatenate([[0.0], mark_pct, liq_pct])
    span = span[np.isfinite(span)]
    lo, hi = float(span.min()), float(span.max())
    margin = max(0.25 * (hi - lo), 0.5)
    lo, hi = lo - margin, hi + margin
    pixels = _plot_width()
    for _ in range(3):  # widening one side moves the other labels: settle it
        for m, label in zip(mark_pct, text, strict=True):
            if not (np.isfinite(m) and label):
                continue
            share = (text_size(label, PNL_FONT)[0] + MARK_RADIUS + 6) / pixels
            if m >= 0:
                hi = max(hi, (m - share * lo) / (1 - share))
            else:
                lo = min(lo, (m - share * hi) / (1 - share))
    return lo, hi


def _text_positions(mark_pct: Any, liq_pct: Any, text: list[str],
                    x_range: tuple[float, float]) -> list[str]:
    """Each uPnL label beside its mark on the side away from the entry (x = 0), so it
    never covers the entry marker; above-and-away when the liquidation marker would
    sit under it."""
    lo, hi = x_range
    per_pixel = (hi - lo) / _plot_width()
    out = []
    for m, q, label in zip(mark_pct, liq_pct, text, strict=True):
        right = not np.isfinite(m) or m >= 0
        reach = (text_size(label, PNL_FONT)[0] + MARK_RADIUS + 6) * per_pixel
        covered = np.isfinite(q) and np.isfinite(m) and (
            m <= q <= m + reach if right else m - reach <= q <= m)
        side = "right" if right else "left"
        out.append(f"top {side}" if covered else f"middle {side}")
    return out


def _pnl_text(pnl: float, unit: str) -> str:
    """``"uPnL +78.28 USD"``; coins get 8 decimals (``"uPnL -0.00004128 XBT"``)."""
    if not np.isfinite(pnl):
        return ""
    amount = f"{pnl:+,.2f}" if unit in _FIAT else f"{pnl:+.8f}"
    return f"uPnL {amount} {unit}".rstrip()
