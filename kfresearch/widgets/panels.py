"""``OrdersPanel`` and ``PositionsPanel``: the account's open orders and positions, with buttons.

Both ask the :class:`~kfresearch.Client` for their rows
(:meth:`~kfresearch.Client.open_orders`, :meth:`~kfresearch.Client.positions`)
and act through it (:meth:`~kfresearch.Client.cancel_order`,
:meth:`~kfresearch.Client.cancel_all`, a reduce-only market
:meth:`~kfresearch.Client.place_order` to close). Refresh is manual (the
Refresh button, :meth:`refresh`), timed (``refresh_interval`` seconds, from
a thread that stops when the panel is closed), and automatic after an order
placed, cancelled or closed from any widget made on the same client.

Example
-------
>>> from kfresearch.widgets import OrdersPanel, PositionsPanel
>>> OrdersPanel(kf, refresh_interval=5)                                 # doctest: +SKIP
>>> PositionsPanel(kf)                                                  # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import threading
from typing import TYPE_CHECKING, Any, cast

import ipywidgets as widgets
import pandas as pd

from kfresearch.errors import OrderRejected
from kfresearch.widgets import _events
from kfresearch.widgets._common import (
    Refresher,
    amount_text,
    badge_html,
    describe_error,
    error_html,
    guarded,
    note_html,
    ok_html,
    price_text,
    size_text,
)

if TYPE_CHECKING:
    from kfresearch.client import Client

__all__ = ["OrdersPanel", "PositionsPanel"]


def _cell(text: str, *, bold: bool = False) -> widgets.HTML:
    body = html.escape(text)
    return widgets.HTML(f"<b>{body}</b>" if bold else body)


def _positive(value: Any) -> float | None:
    """A finite float ≥ 0, else None (a missing field of the instruments frame)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


class _Panel(widgets.VBox):  # type: ignore[misc]
    """A titled table with Refresh, a status line and an optional timed refresh."""

    title = ""
    columns: tuple[str, ...] = ()

    def __init__(self, client: Client, *, refresh_interval: float | None = None) -> None:
        self.client = client
        self.frame: pd.DataFrame = pd.DataFrame()
        self.refreshes = 0
        self._instruments: pd.DataFrame | None = None
        self._lock = threading.RLock()
        self._refresher: Refresher | None = None
        self.badge = widgets.HTML(badge_html(client.env, allow_trading=client.allow_trading))
        self.count = widgets.HTML()
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh",
                                             layout=widgets.Layout(width="auto"))
        self.refresh_button.add_class("kfr-refresh")
        self.refresh_button.on_click(self._on_refresh)
        self.table = widgets.GridBox(
            layout=widgets.Layout(
                grid_template_columns=f"repeat({len(self.columns) + 1}, auto)",
                grid_gap="2px 12px",
            )
        )
        self.table.add_class("kfr-table")
        self.status = widgets.HTML()
        self.status.add_class("kfr-status")
        super().__init__(
            children=[
                widgets.HBox([self.badge, widgets.HTML(f"<b>{self.title}</b>"), self.count,
                              *self._header_buttons(), self.refresh_button]),
                self.table,
                self.status,
            ]
        )
        self.refresh()
        _events.subscribe(client, self._on_account_changed)
        if refresh_interval is not None:
            self._refresher = Refresher(self.refresh, refresh_interval,
                                        f"kfresearch-{type(self).__name__}-refresh").start()

    def _header_buttons(self) -> list[widgets.Widget]:
        return []

    def _contract(self, symbol: str) -> tuple[float | None, float | None]:
        """``(tick size, size step)`` of ``symbol`` for formatting; the instruments are
        read once, and again only for a symbol they lack."""
        if self._instruments is None or symbol not in self._instruments.index:
            self._instruments = self.client.instruments()
        if symbol not in self._instruments.index:
            return None, None
        row = self._instruments.loc[symbol]
        tick = _positive(row.get("tick_size"))
        precision = _positive(row.get("contract_value_trade_precision"))
        step = 10.0 ** -precision if precision is not None else 1.0
        return tick, step

    def _show_error(self, error: BaseException) -> None:
        self.status.value = error_html(describe_error(error))

    @guarded
    def _on_refresh(self, _button: Any = None) -> None:
        self.refresh()

    @guarded
    def _on_account_changed(self, _sender: Any) -> None:
        self.refresh()

    def _changed_account(self) -> None:
        """Refresh, and tell the other widgets on this client."""
        self.refresh()
        _events.announce(self.client, self)

    @guarded
    def refresh(self) -> None:
        """Reload the rows from the exchange."""
        with self._lock:
            frame = self._load()
            self.frame = frame
            self.refreshes += 1
            cells: list[widgets.Widget] = [_cell(c, bold=True) for c in self.columns]
            cells.append(_cell(""))
            for key, row in frame.iterrows():
                cells.extend(_cell(text) for text in self._row(row))
                cells.append(self._button(str(key), row))
            old = list(self.table.children)
            self.table.children = cells
            for widget in old:
                widget.close()
            self.count.value = note_html(f"{len(frame)}")

    @property
    def running(self) -> bool:
        """The timed refresh is on."""
        return self._refresher is not None and self._refresher.running

    def close(self) -> None:
        """Stop the timed refresh and close the panel and its rows."""
        _events.unsubscribe(self.client, self._on_account_changed)
        if self._refresher is not None:
            self._refresher.stop()
        for child in list(self.table.children):
            child.close()
        super().close()

    # subclasses
    def _load(self) -> pd.DataFrame:
        raise NotImplementedError

    def _row(self, row: pd.Series) -> list[str]:
        raise NotImplementedError

    def _button(self, key: str, row: pd.Series) -> widgets.Button:
        raise NotImplementedError


class OrdersPanel(_Panel):
    """Open orders with a Cancel button each, and Cancel all.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows shown (``client.open_orders()``), by ``order_id``.
    cancel_buttons : dict of str to Button
        The Cancel button of each order id.
    """

    title = "Open orders"
    columns = ("symbol", "side", "type", "size", "filled", "limit", "stop", "reduce-only")

    def __init__(self, client: Client, *, refresh_interval: float | None = None) -> None:
        self.cancel_buttons: dict[str, widgets.Button] = {}
        self.cancel_all_button = widgets.Button(description="Cancel all", button_style="warning",
                                                layout=widgets.Layout(width="auto"))
        self.cancel_all_button.add_class("kfr-cancel-all")
        super().__init__(client, refresh_interval=refresh_interval)
        self.cancel_all_button.on_click(self._on_cancel_all)

    def _header_buttons(self) -> list[widgets.Widget]:
        return [self.cancel_all_button]

    def _load(self) -> pd.DataFrame:
        self.cancel_buttons = {}
        return self.client.open_orders()

    def _row(self, row: pd.Series) -> list[str]:
        symbol = str(row.get("symbol"))
        tick, step = self._contract(symbol)
        size = float(row.get("filled_size", 0) or 0) + float(row.get("unfilled_size", 0) or 0)
        return [
            symbol,
            str(row.get("side")),
            str(row.get("order_type")),
            size_text(size, step),
            size_text(row.get("filled_size"), step),
            price_text(row.get("limit_price"), tick),
            price_text(row.get("stop_price"), tick),
            "yes" if bool(row.get("reduce_only")) else "",
        ]

    def _button(self, key: str, row: pd.Series) -> widgets.Button:
        button = widgets.Button(description="Cancel", tooltip=f"cancel order {key}",
                                layout=widgets.Layout(width="auto"))
        button.add_class("kfr-cancel")
        button.on_click(lambda _b, order_id=key: self._cancel(order_id))
        self.cancel_buttons[key] = button
        return button

    @guarded
    def _cancel(self, order_id: str) -> None:
        try:
            result = self.client.cancel_order(order_id)
        except OrderRejected as exc:
            self.status.value = error_html(f"Not cancelled: {exc.status}. {exc.explanation}")
        else:
            self.status.value = ok_html(f"{result.status}: order {order_id}")
        self._changed_account()

    @guarded
    def _on_cancel_all(self, _button: Any = None) -> None:
        result = self.client.cancel_all()
        self.status.value = ok_html(
            f"{result.status}: {len(result.cancelled)} order"
            f"{'s' if len(result.cancelled) != 1 else ''} cancelled"
        )
        self._changed_account()

    def __repr__(self) -> str:
        return f"OrdersPanel(env={self.client.env.name!r}, orders={len(self.frame)})"


class PositionsPanel(_Panel):
    """Open positions with a Close button each (a reduce-only market order).

    On ``live`` the first click asks for a second click on the same button.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows shown (``client.positions()``), by ``symbol``.
    close_buttons : dict of str to Button
        The Close button of each symbol.
    """

    title = "Positions"
    columns = ("symbol", "size", "entry", "mark", "notional", "unrealised PnL")

    def __init__(self, client: Client, *, refresh_interval: float | None = None) -> None:
        self.close_buttons: dict[str, widgets.Button] = {}
        self._armed: str | None = None
        super().__init__(client, refresh_interval=refresh_interval)

    def _load(self) -> pd.DataFrame:
        self.close_buttons = {}
        self._armed = None
        return self.client.positions()

    def _row(self, row: pd.Series) -> list[str]:
        symbol = str(row.name)
        tick, step = self._contract(symbol)
        # the frame names the settlement currency (USD linear, the base coin inverse)
        currency = row.get("currency")
        pnl_currency = currency if isinstance(currency, str) else ""
        return [
            symbol,
            size_text(row.get("size"), step),
            price_text(row.get("entry_price"), tick),
            price_text(row.get("mark_price"), tick),
            amount_text(row.get("notional"), "USD"),
            amount_text(row.get("unrealized_pnl"), pnl_currency, sign=True),
        ]

    def _button(self, key: str, row: pd.Series) -> widgets.Button:
        button = widgets.Button(description="Close", tooltip=f"close {key} (reduce-only market)",
                                layout=widgets.Layout(width="auto"))
        button.add_class("kfr-close")
        button.on_click(lambda _b, symbol=key: self._close(symbol))
        self.close_buttons[key] = button
        return button

    @guarded
    def _close(self, symbol: str) -> None:
        size = 0.0
        if symbol in self.frame.index:
            size = float(cast(float, self.frame.loc[symbol, "size"]))
        if not size:
            self.status.value = error_html(f"No {symbol} position to close.")
            return
        side = "sell" if size > 0 else "buy"
        if self.client.env.real_money and self._armed != symbol:
            self._armed = symbol
            self.close_buttons[symbol].description = "Confirm close"
            self.close_buttons[symbol].button_style = "danger"
            self.status.value = error_html(
                f"LIVE: click 'Confirm close' to {side} {abs(size):g} {symbol} at market "
                "(reduce-only)."
            )
            return
        self._armed = None
        try:
            result = self.client.place_order(symbol, side, abs(size), "mkt", reduce_only=True)
        except OrderRejected as exc:
            self.status.value = error_html(f"Not closed: {exc.status}. {exc.explanation}")
        else:
            self.status.value = ok_html(f"{result.describe()} (order {result.order_id})")
        self._changed_account()

    def __repr__(self) -> str:
        return f"PositionsPanel(env={self.client.env.name!r}, positions={len(self.frame)})"
