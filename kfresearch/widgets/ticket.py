"""``OrderTicket``: place one order from a notebook, with the checks the API makes.

The ticket holds its state in widget values (and the ``side`` trait), asks the
:class:`~kfresearch.Client` for everything (symbols, prices, position, margin:
:meth:`~kfresearch.Client.order_context`; the order:
:meth:`~kfresearch.Client.place_order`) and never signs or sends HTTP itself.
The preview and the inline field errors come from the same functions the API
uses (:func:`kfresearch.orders.preview.preview`,
:func:`kfresearch.orders.requests.check_send`; the prices each order type takes
come from :mod:`kfresearch.contracts`),
computed locally on every change, so typing sends no request.

Example
-------
>>> from kfresearch.widgets import OrderTicket
>>> ticket = OrderTicket(kf, "PF_XBTUSD")                               # doctest: +SKIP
>>> ticket.size.value = 0.001; ticket.limit_price.value = 70000         # doctest: +SKIP
>>> ticket.submit_button.click()                                        # doctest: +SKIP
>>> ticket.last_result.status                                           # doctest: +SKIP
'placed'
"""

from __future__ import annotations

import html
import math
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from kfresearch.contracts import (
    TRIGGER_TYPES,
    takes_limit_price,
    takes_stop_price,
)
from kfresearch.errors import OrderRejected, ValidationError
from kfresearch.orders import (
    InstrumentRules,
    OrderContext,
    OrderPreview,
    OrderResult,
    Send,
    Trailing,
)
from kfresearch.orders.preview import preview
from kfresearch.orders.requests import check_send
from kfresearch.widgets import _events
from kfresearch.widgets._common import (
    Refresher,
    amount_text,
    badge_html,
    describe_error,
    error_html,
    fmt,
    guarded,
    note_html,
    ok_html,
    price_text,
    size_text,
)

if TYPE_CHECKING:
    from kfresearch.client import Client

__all__ = ["OrderTicket"]

ORDER_TYPES = [
    ("Limit", "lmt"),
    ("Market", "mkt"),
    ("Stop", "stp"),
    ("Take profit", "take_profit"),
    ("Trailing stop", "trailing_stop"),
    ("Immediate or cancel", "ioc"),
    ("Fill or kill", "fok"),
]
_FIELDS = (
    "symbol",
    "side",
    "order_type",
    "size",
    "limit_price",
    "stop_price",
    "trailing",
    "trigger_signal",
    "post_only",
    "client_order_id",
)
_USES_LIMIT = {kind for _, kind in ORDER_TYPES if takes_limit_price(kind)}
_USES_STOP = {kind for _, kind in ORDER_TYPES if takes_stop_price(kind)}


def _row_layout() -> widgets.Layout:
    """A fresh layout per row: rows are hidden one by one (a shared Layout hides them all)."""
    return widgets.Layout(align_items="center")


def _small_button(text: str, tip: str, css: str) -> widgets.Button:
    button = widgets.Button(description=text, tooltip=tip, layout=widgets.Layout(width="auto"))
    button.add_class(css)
    return button


class OrderTicket(widgets.VBox):  # type: ignore[misc]
    """An order ticket made from a :class:`~kfresearch.Client`.

    Parameters
    ----------
    client : Client
        Where orders go; its environment is shown as a coloured badge (a
        LIVE order needs the symbol typed to confirm).
    symbol : str
        Contract to start with.
    refresh_interval : float, optional
        Seconds between automatic refreshes of prices, position and margin
        (None: only the Refresh button). Stops when the ticket is closed.

    Attributes
    ----------
    side : str
        ``"buy"`` or ``"sell"`` (set by :attr:`buy_button` / :attr:`sell_button`).
    context : OrderContext or None
        The contract's rules, prices, position and margin, as last loaded.
    last_result : OrderResult or None
        The last order the exchange accepted from this ticket.
    """

    side = traitlets.Unicode("buy")

    def __init__(
        self,
        client: Client,
        symbol: str = "PF_XBTUSD",
        *,
        refresh_interval: float | None = None,
    ) -> None:
        self.client = client
        self.context: OrderContext | None = None
        self.last_result: OrderResult | None = None
        self._pending: Send | None = None
        self._syncing = False
        self._notes: dict[str, str] = {}
        self._context_error: str | None = None
        self._lock = threading.RLock()
        self._refresher: Refresher | None = None

        env = client.env
        self.badge = widgets.HTML(badge_html(env, allow_trading=client.allow_trading))
        self.margin = widgets.HTML()
        self.refresh_button = _small_button("Refresh", "reload prices, position and margin",
                                            "kfr-refresh")
        self.symbol = widgets.Combobox(
            value=symbol,
            options=[],
            placeholder="search a symbol",
            description="Symbol",
            ensure_option=False,
            continuous_update=False,
        )
        self.symbol.add_class("kfr-symbol")
        self.buy_button = _small_button("Buy", "buy (go long)", "kfr-buy")
        self.sell_button = _small_button("Sell", "sell (go short)", "kfr-sell")
        self.order_type = widgets.Dropdown(options=ORDER_TYPES, value="lmt", description="Type")
        self.order_type.add_class("kfr-order-type")
        self.size = widgets.FloatText(value=0.0, description="Size")
        self.size.add_class("kfr-size")
        self.size_unit = widgets.HTML("contracts")
        self.notional = widgets.FloatText(value=0.0, description="or USD")
        self.notional.add_class("kfr-notional")
        self.limit_price = widgets.FloatText(value=0.0, description="Limit")
        self.limit_price.add_class("kfr-limit-price")
        self.limit_down = _small_button("−tick", "one tick lower", "kfr-limit-down")
        self.limit_up = _small_button("+tick", "one tick higher", "kfr-limit-up")
        self.use_bid = _small_button("bid", "use the best bid", "kfr-use-bid")
        self.use_ask = _small_button("ask", "use the best ask", "kfr-use-ask")
        self.use_mark = _small_button("mark", "use the mark price", "kfr-use-mark")
        self.stop_price = widgets.FloatText(value=0.0, description="Stop")
        self.stop_price.add_class("kfr-stop-price")
        self.stop_down = _small_button("−tick", "one tick lower", "kfr-stop-down")
        self.stop_up = _small_button("+tick", "one tick higher", "kfr-stop-up")
        self.trailing = widgets.FloatText(value=1.0, description="Trail")
        self.trailing_unit = widgets.Dropdown(
            options=[("%", "percent"), ("USD", "quote")], value="percent",
            layout=widgets.Layout(width="80px"),
        )
        self.trigger_signal = widgets.Dropdown(
            options=[("mark", "mark"), ("index", "index"), ("last", "last")],
            value="mark",
            description="Trigger",
        )
        self.reduce_only = widgets.Checkbox(value=False, description="reduce-only", indent=False)
        self.post_only = widgets.Checkbox(value=False, description="post-only", indent=False)
        self.preview_html = widgets.HTML()
        self.preview_html.add_class("kfr-preview")
        self.field_errors = {name: widgets.HTML() for name in _FIELDS}
        for name, box in self.field_errors.items():
            box.add_class(f"kfr-error-{name.replace('_', '-')}")
        self.submit_button = widgets.Button(description="Submit", button_style="primary")
        self.submit_button.add_class("kfr-submit")
        self.confirm_text = widgets.Text(placeholder="type the symbol to confirm")
        self.confirm_text.add_class("kfr-confirm-text")
        self.confirm_button = widgets.Button(description="Confirm LIVE order",
                                             button_style="danger")
        self.confirm_button.add_class("kfr-confirm")
        self.back_button = widgets.Button(description="Back")
        self.confirm_box = widgets.HBox(
            [self.confirm_text, self.confirm_button, self.back_button],
            layout=widgets.Layout(display="none"),
        )
        self.result = widgets.HTML()
        self.result.add_class("kfr-result")

        self.limit_row = widgets.HBox(
            [self.limit_price, self.limit_down, self.limit_up, self.use_bid, self.use_ask,
             self.use_mark], layout=_row_layout(),
        )
        self.stop_row = widgets.HBox([self.stop_price, self.stop_down, self.stop_up],
                                     layout=_row_layout())
        self.trailing_row = widgets.HBox([self.trailing, self.trailing_unit], layout=_row_layout())
        self.trigger_row = widgets.HBox([self.trigger_signal], layout=_row_layout())
        super().__init__(
            children=[
                widgets.HBox([self.badge, self.margin, self.refresh_button], layout=_row_layout()),
                self.symbol,
                self.field_errors["symbol"],
                widgets.HBox([self.buy_button, self.sell_button, self.order_type],
                             layout=_row_layout()),
                self.field_errors["order_type"],
                widgets.HBox([self.size, self.size_unit, self.notional], layout=_row_layout()),
                self.field_errors["size"],
                self.limit_row,
                self.field_errors["limit_price"],
                self.stop_row,
                self.field_errors["stop_price"],
                self.trailing_row,
                self.field_errors["trailing"],
                self.trigger_row,
                self.field_errors["trigger_signal"],
                widgets.HBox([self.reduce_only, self.post_only], layout=_row_layout()),
                self.field_errors["post_only"],
                self.preview_html,
                self.submit_button,
                self.confirm_box,
                self.result,
            ]
        )
        self.add_class("kfr-ticket")

        self.refresh_button.on_click(self._on_refresh)
        self.buy_button.on_click(self._on_buy)
        self.sell_button.on_click(self._on_sell)
        self.limit_down.on_click(self._on_limit_down)
        self.limit_up.on_click(self._on_limit_up)
        self.stop_down.on_click(self._on_stop_down)
        self.stop_up.on_click(self._on_stop_up)
        self.use_bid.on_click(self._on_use_bid)
        self.use_ask.on_click(self._on_use_ask)
        self.use_mark.on_click(self._on_use_mark)
        self.submit_button.on_click(self._on_submit)
        self.confirm_button.on_click(self._on_confirm)
        self.back_button.on_click(self._on_back)
        self.symbol.observe(self._on_symbol, names="value")
        self.size.observe(self._on_size, names="value")
        self.notional.observe(self._on_notional, names="value")
        self.limit_price.observe(self._on_limit_price, names="value")
        self.stop_price.observe(self._on_stop_price, names="value")
        for control in (self.order_type, self.trailing, self.trailing_unit,
                        self.trigger_signal, self.reduce_only, self.post_only):
            control.observe(self._on_change, names="value")
        self.observe(self._on_change, names="side")

        self._load_symbols()
        self._load_context(reset_prices=True)
        self._show_side()
        self._layout_for_type()
        self._update()
        _events.subscribe(client, self._on_account_changed)
        if refresh_interval is not None:
            self._refresher = Refresher(self._on_timer, refresh_interval,
                                        "kfresearch-ticket-refresh").start()

    # -- state ----------------------------------------------------------------------
    @property
    def rules(self) -> InstrumentRules | None:
        return self.context.rules if self.context is not None else None

    def order(self) -> Send:
        """The order the ticket describes now (what Submit would send)."""
        kind = str(self.order_type.value)
        limit = self.limit_price.value if kind in _USES_LIMIT and self.limit_price.value else None
        stop = self.stop_price.value if kind in _USES_STOP and self.stop_price.value else None
        trailing = None
        if kind == "trailing_stop" and self.trailing.value:
            trailing = Trailing(float(self.trailing.value), str(self.trailing_unit.value))
        symbol = self.rules.symbol if self.rules is not None else str(self.symbol.value)
        return Send(
            symbol=symbol,
            side=str(self.side),
            size=float(self.size.value),
            order_type=kind,
            limit_price=limit,
            stop_price=stop,
            trigger_signal=str(self.trigger_signal.value) if kind in TRIGGER_TYPES
            else None,
            reduce_only=bool(self.reduce_only.value),
            post_only=bool(self.post_only.value) and kind == "lmt",
            trailing=trailing,
        )

    def _show_error(self, error: BaseException) -> None:
        self.result.value = error_html(describe_error(error))

    # -- loading ----------------------------------------------------------------------
    @guarded
    def _load_symbols(self) -> None:
        frame = self.client.instruments()
        tradeable = frame[frame["tradeable"]].index if "tradeable" in frame else frame.index
        self.symbol.options = sorted(str(s) for s in tradeable)

    @guarded
    def _load_context(self, reset_prices: bool = False) -> None:
        with self._lock:
            try:
                context = self.client.order_context(str(self.symbol.value))
            except ValidationError as exc:
                self.context = None
                self._context_error = str(exc)
                self._update()
                return
            self._context_error = None
            self.context = context
            rules = context.rules
            if self.symbol.value != rules.symbol:
                self._syncing = True
                try:
                    self.symbol.value = rules.symbol
                finally:
                    self._syncing = False
            self.size_unit.value = "USD contracts" if rules.inverse else f"{rules.base} (contracts)"
            for box in (self.size,):
                box.step = rules.size_step or 1.0
            for box in (self.limit_price, self.stop_price):
                box.step = rules.tick_size or 1.0
            if reset_prices:
                self._syncing = True
                try:
                    self.limit_price.value = self._default_price() or 0.0
                    self.stop_price.value = 0.0
                    if not self.size.value:
                        self.size.value = rules.size_step or 0.0
                finally:
                    self._syncing = False
            self.margin.value = note_html(
                f"available margin {amount_text(context.available_margin, rules.margin_currency)}"
            )
            self._sync_notional()
            self._update()

    def _default_price(self) -> float | None:
        """A passive starting price: the best bid to buy, the best ask to sell."""
        if self.context is None:
            return None
        ctx = self.context
        price = ctx.bid if self.side == "buy" else ctx.ask
        price = price if price is not None else ctx.mark
        return ctx.rules.snap_price(price) if price is not None else None

    # -- callbacks ----------------------------------------------------------------------
    @guarded
    def _on_refresh(self, _button: Any = None) -> None:
        self._load_context()

    @guarded
    def _on_account_changed(self, _sender: Any) -> None:
        """Another widget on this client changed the account: reload position and margin."""
        self._load_context()

    @guarded
    def _on_timer(self) -> None:
        if self.context is not None or self.symbol.value:
            self._load_context()

    @guarded
    def _on_buy(self, _button: Any = None) -> None:
        self.side = "buy"

    @guarded
    def _on_sell(self, _button: Any = None) -> None:
        self.side = "sell"

    @guarded
    def _on_symbol(self, change: dict[str, Any]) -> None:
        if self._syncing or not change["new"]:
            return
        self._cancel_confirmation()
        self._load_context(reset_prices=True)

    def _step_price(self, box: widgets.FloatText, ticks: int) -> None:
        if self.context is None:
            return
        rules = self.context.rules
        tick = rules.tick_size or 1.0
        start = box.value or self.context.mark or 0.0
        box.value = max(tick, rules.snap_price(start + ticks * tick))

    @guarded
    def _on_limit_down(self, _button: Any = None) -> None:
        self._step_price(self.limit_price, -1)

    @guarded
    def _on_limit_up(self, _button: Any = None) -> None:
        self._step_price(self.limit_price, +1)

    @guarded
    def _on_stop_down(self, _button: Any = None) -> None:
        self._step_price(self.stop_price, -1)

    @guarded
    def _on_stop_up(self, _button: Any = None) -> None:
        self._step_price(self.stop_price, +1)

    def _use(self, which: str) -> None:
        if self.context is None:
            return
        price = {"bid": self.context.bid, "ask": self.context.ask, "mark": self.context.mark}[
            which
        ]
        if price is None:
            self.result.value = error_html(f"no {which} price for {self.context.symbol} now")
            return
        box = self.stop_price if self.order_type.value in _USES_STOP else self.limit_price
        box.value = self.context.rules.snap_price(price)

    @guarded
    def _on_use_bid(self, _button: Any = None) -> None:
        self._use("bid")

    @guarded
    def _on_use_ask(self, _button: Any = None) -> None:
        self._use("ask")

    @guarded
    def _on_use_mark(self, _button: Any = None) -> None:
        self._use("mark")

    def _snap(self, box: widgets.FloatText, name: str, value: float) -> None:
        """Snap a typed price to the tick, and say so under the field."""
        rules = self.rules
        if rules is None or not value or rules.tick_size is None:
            return
        snapped = rules.snap_price(value)
        if snapped > 0 and not math.isclose(snapped, value, rel_tol=0, abs_tol=1e-12):
            box.value = snapped
            self._notes[name] = (
                f"snapped {value:g} to the {rules.tick_size:g} tick: {rules.format_price(snapped)}"
            )

    @guarded
    def _on_limit_price(self, change: dict[str, Any]) -> None:
        self._cancel_confirmation()
        self._notes.pop("limit_price", None)
        if not self._syncing:
            self._snap(self.limit_price, "limit_price", float(change["new"]))
        self._sync_notional()
        self._update()

    @guarded
    def _on_stop_price(self, change: dict[str, Any]) -> None:
        self._cancel_confirmation()
        self._notes.pop("stop_price", None)
        if not self._syncing:
            self._snap(self.stop_price, "stop_price", float(change["new"]))
        self._update()

    @guarded
    def _on_size(self, _change: dict[str, Any]) -> None:
        self._cancel_confirmation()
        self._sync_notional()
        self._update()

    def _estimate_price(self) -> float | None:
        if self.context is None:
            return None
        ctx = self.context
        if self.order_type.value in _USES_LIMIT and self.limit_price.value:
            return float(self.limit_price.value)
        side = ctx.ask if self.side == "buy" else ctx.bid
        return side if side is not None else ctx.mark

    def _sync_notional(self) -> None:
        """Show the size in USD (inverse contracts are 1 USD each)."""
        if self._syncing or self.rules is None:
            return
        price = self._estimate_price()
        if not price:
            return
        self._syncing = True
        try:
            self.notional.value = round(self.rules.notional_usd(float(self.size.value), price), 2)
        finally:
            self._syncing = False

    @guarded
    def _on_notional(self, change: dict[str, Any]) -> None:
        """Convert a size typed in USD to contracts (rounded down to the contract step)."""
        if self._syncing or self.rules is None:
            return
        price = self._estimate_price()
        if not price:
            return
        rules = self.rules
        usd = float(change["new"])
        per_contract = rules.contract_size * (1.0 if rules.inverse else price)
        contracts = rules.snap_size(usd / per_contract) if per_contract > 0 else 0.0
        self._syncing = True
        try:
            self.size.value = contracts
        finally:
            self._syncing = False
        self._update()

    @guarded
    def _on_change(self, _change: Any = None) -> None:
        self._cancel_confirmation()
        self._show_side()
        self._layout_for_type()
        self._sync_notional()
        self._update()

    # -- display ------------------------------------------------------------------------
    def _show_side(self) -> None:
        buy = self.side == "buy"
        self.buy_button.button_style = "success" if buy else ""
        self.sell_button.button_style = "" if buy else "danger"

    def _layout_for_type(self) -> None:
        kind = self.order_type.value

        def show(box: widgets.Widget, visible: bool) -> None:
            box.layout.display = None if visible else "none"

        show(self.limit_row, kind in _USES_LIMIT)
        show(self.stop_row, kind in _USES_STOP)
        show(self.trailing_row, kind == "trailing_stop")
        show(self.trigger_row, kind in TRIGGER_TYPES)
        self.limit_price.description = "Worst price" if kind in _USES_STOP else "Limit"
        self.post_only.disabled = kind != "lmt"

    def _update(self) -> None:
        """Recompute the preview and the field errors (local: sends nothing)."""
        order = self.order()
        if self.context is None:
            errors = check_send(order)
            self.preview_html.value = note_html("no market data (see the error above)")
        else:
            view = preview(order, self.context)
            errors = list(view.errors)
            self.preview_html.value = _preview_html(view)
        first: dict[str, str] = {}
        if self.context is None and self._context_error:
            first["symbol"] = self._context_error
        for error in errors:
            first.setdefault(error.field, str(error))
        for name, box in self.field_errors.items():
            if name in first:
                box.value = error_html(first[name])
            elif name in self._notes:
                box.value = note_html(self._notes[name])
            else:
                box.value = ""

    # -- submit ---------------------------------------------------------------------------
    @guarded
    def _on_submit(self, _button: Any = None) -> None:
        self._cancel_confirmation()
        order = self.order()
        errors = (
            check_send(order, self.context.rules, mark=self.context.mark,
                              position=self.context.position)
            if self.context is not None else check_send(order)
        )
        self._update()
        if errors or self.context is None:
            problem = str(errors[0]) if errors else "no market data for this symbol"
            self.result.value = error_html(f"Not sent: {problem}")
            return
        if self.client.env.real_money:
            self._pending = order
            self.confirm_text.value = ""
            self.confirm_box.layout.display = "flex"
            self.result.value = error_html(
                f"LIVE order with real money: type {order.symbol} and click Confirm to send "
                f"{order.side} {order.size:g} {order.symbol} {order.order_type}."
            )
            return
        self._place(order)

    @guarded
    def _on_confirm(self, _button: Any = None) -> None:
        pending = self._pending
        if pending is None:
            self.result.value = error_html("Nothing to confirm: click Submit first.")
            return
        if self.order() != pending:
            self._cancel_confirmation()
            self.result.value = error_html("The order changed: click Submit again.")
            return
        if self.confirm_text.value.strip() != pending.symbol:
            self.result.value = error_html(
                f"Not sent: type the symbol {pending.symbol} exactly to confirm."
            )
            return
        self._cancel_confirmation()
        self._place(pending)

    @guarded
    def _on_back(self, _button: Any = None) -> None:
        self._cancel_confirmation()
        self.result.value = note_html("Not sent.")

    def _cancel_confirmation(self) -> None:
        self._pending = None
        self.confirm_box.layout.display = "none"

    def _place(self, order: Send) -> None:
        self.result.value = note_html("sending…")
        self.submit_button.disabled = True
        try:
            result = self.client.place_order(
                order.symbol,
                order.side,
                order.size,
                order.order_type,
                limit_price=order.limit_price,
                stop_price=order.stop_price,
                trigger_signal=order.trigger_signal,
                reduce_only=order.reduce_only,
                post_only=order.post_only,
                trailing=order.trailing,
            )
        except OrderRejected as exc:
            self.result.value = error_html(f"Rejected: {exc.status}. {exc.explanation}")
            return
        except ValidationError as exc:
            if exc.field in self.field_errors:
                self.field_errors[exc.field].value = error_html(str(exc))
            self.result.value = error_html(f"Not sent: {exc}")
            return
        finally:
            self.submit_button.disabled = False
        self.last_result = result
        self.result.value = ok_html(_result_text(result, self.rules))
        self._load_context()
        _events.announce(self.client, self)

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the timed refresh and close every part of the ticket."""
        _events.unsubscribe(self.client, self._on_account_changed)
        if self._refresher is not None:
            self._refresher.stop()
        for child in list(self.children):
            _close_tree(child)
        super().close()

    def __repr__(self) -> str:
        limit = self.limit_price.value if self.order_type.value in _USES_LIMIT else None
        return (
            f"OrderTicket(env={self.client.env.name!r}, symbol={self.symbol.value!r}, "
            f"side={self.side!r}, order_type={self.order_type.value!r}, "
            f"size={self.size.value!r}, limit_price={limit!r})"
        )


def _preview_html(view: OrderPreview) -> str:
    """The market, then the estimates; for an order that cannot be sent, the first
    problem in place of the estimates (numbers for an invalid order mislead)."""
    ctx = view.context
    rules = ctx.rules
    ccy = rules.margin_currency
    rows = [
        ("best bid / ask",
         f"{price_text(ctx.bid, rules.tick_size, '')} / {_price(rules, ctx.ask)}"),
        ("mark", _price(rules, ctx.mark)),
    ]
    if view.errors:
        rows.append(("not estimated", str(view.errors[0])))
    else:
        rows += [
            ("notional", amount_text(view.notional_usd, "USD")),
            ("est. initial margin", amount_text(view.initial_margin, ccy)),
            ("est. fee", f"{amount_text(view.fee, ccy)} ({view.liquidity}, "
                         f"{view.fee_rate * 1e4:.1f} bp)"),
            ("distance from mark", f"{fmt(view.distance_bps, 1, sign=True)} bp"),
            ("position", f"{_qty(view.position)} → {_qty(view.resulting_position)}"),
        ]
    cells = "".join(
        f"<tr><td style='padding-right:12px'>{html.escape(k)}</td>"
        f"<td><b>{html.escape(v)}</b></td></tr>"
        for k, v in rows
    )
    css = "kfr-preview-table kfr-preview-invalid" if view.errors else "kfr-preview-table"
    return f"<table class='{css}'>{cells}</table>"


def _result_text(result: OrderResult, rules: InstrumentRules | None) -> str:
    """``Filled 0.5 at 2,647.34 USD (buy 0.5 PF_ETHUSD mkt, order id …).``"""
    tick = rules.tick_size if rules is not None else None
    step = rules.size_step if rules is not None else None
    what = " ".join(
        p for p in (result.side, size_text(result.size, step), result.symbol,
                    result.order_type) if p
    )
    outcome = result.outcome(lambda price: price_text(price, tick))
    return f"{outcome} ({what}, order id {result.order_id})"


def _close_tree(widget: Any) -> None:
    for child in list(getattr(widget, "children", ()) or ()):
        _close_tree(child)
    widget.close()


def _price(rules: InstrumentRules, value: float | None) -> str:
    return price_text(value, rules.tick_size)


def _qty(value: float) -> str:
    return f"{value:+,g}" if value else "0"
