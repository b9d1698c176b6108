"""Edits: an open order's size or prices changed in place, checked like a new order.

Statuses (reference §4.12 ``editorder``): ``edited``,
``wouldProcessAfterSpecifiedTime``, ``orderForEditNotFound``,
``orderForEditNotAStop`` (a stop price for an order without one),
``cannotEditTriggerPriceOfTrailingStop``,
``cannotEditLimitPriceOfTrailingStop``, ``invalidSize``, ``invalidPrice``,
``outsidePriceCollar``, ``wouldNotReducePosition``,
``insufficientAvailableFunds``, ``postWouldExecute``, ``selfFill``. A limit
order edited through the market takes liquidity (fill type
``takerAfterEdit``).

On a source that models queue position (``demo``), an edit that changes the
limit price or increases the size loses the order's place: it queues again
behind the size the book shows at its (new) price; reducing the size keeps
its place.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kfresearch.sim import margin
from kfresearch.sim.accounts import Account
from kfresearch.sim.entry import PRICE_COLLAR
from kfresearch.sim.events import Events
from kfresearch.sim.formats import iso
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.ledger import Ledger
from kfresearch.sim.matching import Matcher
from kfresearch.sim.orders import LIMIT_TYPES, EditRequest, Order
from kfresearch.sim.prices import Prices
from kfresearch.sim.ticks import on_grid, trailing_stop_price
from kfresearch.sim.valuation import Valuation

__all__ = ["EDITABLE", "Editor"]

EDITABLE = (
    "quantity",
    "limit_price",
    "stop_price",
    "trailing_deviation",
    "trailing_unit",
    "trail_extreme",
)
"""The fields of an :class:`~kfresearch.sim.orders.Order` an edit may change."""


class Editor:
    """Judges and applies edits of open orders (see the module docstring)."""

    def __init__(
        self,
        prices: Prices,
        ledger: Ledger,
        events: Events,
        valuation: Valuation,
        matcher: Matcher,
    ) -> None:
        self.prices = prices
        self.ledger = ledger
        self.events = events
        self.valuation = valuation
        self.matcher = matcher

    def edit(self, acc: Account, request: EditRequest, now_ms: int) -> dict[str, Any]:
        """Judge and apply ``request``; the ``editStatus`` payload of ``POST /editorder``."""
        order = acc.find_order(request.order_id, request.cli_ord_id)
        if order is not None and not order.is_open:
            order = None
        status, edited = self._status(acc, order, request, now_ms)
        body: dict[str, Any] = {"status": status}
        if order is not None:
            body["orderId"] = order.order_id
        elif request.order_id:
            body["orderId"] = request.order_id
        if (order and order.cli_ord_id) or request.cli_ord_id:
            body["cliOrdId"] = (
                order.cli_ord_id if order and order.cli_ord_id else request.cli_ord_id
            )
        body["receivedTime"] = iso(now_ms)
        body["orderEvents"] = self._apply(acc, order, edited, now_ms) if order and edited else []
        return body

    def _status(
        self, acc: Account, order: Order | None, request: EditRequest, now: int
    ) -> tuple[str, Order | None]:
        """The edit's status and, when it is accepted, the order as it would become."""
        if request.process_before_ms is not None and now > request.process_before_ms:
            return "wouldProcessAfterSpecifiedTime", None
        if order is None:
            return "orderForEditNotFound", None
        spec = self.prices.known_spec(order.symbol)
        if order.order_type == "trailing_stop" and order.is_trigger:
            if request.stop_price is not None:
                return "cannotEditTriggerPriceOfTrailingStop", None
            if request.limit_price is not None:
                return "cannotEditLimitPriceOfTrailingStop", None
        if request.stop_price is not None and not order.is_trigger:
            return "orderForEditNotAStop", None
        edited = replace(order)
        if request.size is not None:
            quantity = request.size + (order.filled if request.qty_mode == "RELATIVE" else 0.0)
            if (
                request.size <= 0
                or not on_grid(request.size, spec.size_step)
                or quantity <= order.filled
            ):
                return "invalidSize", None
            edited.quantity = margin.round_size(spec, quantity)
        for price in (request.limit_price, request.stop_price):
            if price is not None and (price <= 0 or not on_grid(price, spec.tick_size)):
                return "invalidPrice", None
        if request.limit_price is not None:
            edited.limit_price = request.limit_price
        if request.stop_price is not None:
            edited.stop_price = request.stop_price
        if request.trailing_deviation is not None and order.order_type == "trailing_stop":
            edited.trailing_deviation = request.trailing_deviation
            edited.trailing_unit = request.trailing_unit or order.trailing_unit
            edited.trail_extreme = self.prices.signal(
                order.symbol, order.trigger_signal or "mark", now
            )
            edited.stop_price = trailing_stop_price(edited, spec)
        status = self._risk(acc, edited, spec, now)
        return (status, None) if status else ("edited", edited)

    def _risk(self, acc: Account, edited: Order, spec: InstrumentSpec, now: int) -> str | None:
        """The first check the edited order fails (it replaces the open order in the margin)."""
        mark = self.prices.mark(spec.symbol, now)
        if (
            edited.effective_type in LIMIT_TYPES
            and edited.limit_price is not None
            and not edited.is_trigger
        ):
            if edited.sign * (edited.limit_price / mark - 1) > PRICE_COLLAR:
                return "outsidePriceCollar"
        if edited.reduce_only and edited.unfilled > abs(acc.position_size(spec.symbol)):
            return "wouldNotReducePosition"
        if not edited.reduce_only and not edited.is_trigger:
            _, before = self.valuation.wallet_need(acc, spec.margin_account, now, None)
            equity, after = self.valuation.wallet_need(acc, spec.margin_account, now, edited)
            if after > equity and after > before:
                return "insufficientAvailableFunds"
        if edited.is_trigger or edited.limit_price is None:
            return None
        bids, asks = self.prices.book(spec.symbol, now)
        levels = asks if edited.side == "buy" else bids
        crosses = bool(levels) and edited.sign * (levels[0][0] - edited.limit_price) <= 0
        if edited.order_type == "post" and crosses:
            return "postWouldExecute"
        taking = self.matcher.taking(edited, spec, levels, edited.limit_price)
        if self.matcher.self_cross(acc, edited, taking):
            return "selfFill"
        return None

    def _apply(self, acc: Account, order: Order, edited: Order, now: int) -> list[dict[str, Any]]:
        spec = self.prices.known_spec(order.symbol)
        old_body = order.v3_event_body()[1]
        old_history = (
            order.history(acc.uid)
            if not order.is_trigger
            else order.history_trigger(acc.uid, acc.number)
        )
        old_quantity, old_limit = order.quantity, order.limit_price
        for name in EDITABLE:
            setattr(order, name, getattr(edited, name))
        if self.prices.models_queue and not order.is_trigger and order.limit_price is not None:
            if order.limit_price != old_limit or order.quantity > old_quantity:
                # price-time priority: a new price or a larger size is a new place at the
                # back of the queue; a smaller size keeps the place it had
                order.queue_ahead = self.prices.queue_ahead(
                    order.symbol, order.side, order.limit_price, now
                )
        order.updated_ms = now
        order.update_reason = "EDITED_BY_USER"
        self.ledger.put_order(acc, order)
        _, new_body = order.v3_event_body()
        if order.is_trigger:
            body = {
                "OrderTriggerUpdated": {
                    "oldOrderTrigger": old_history,
                    "newOrderTrigger": order.history_trigger(acc.uid, acc.number),
                    "reason": "edited_by_user",
                }
            }
            self.ledger.record(acc, now, order.symbol, ("triggers", body, set()))
        else:
            self.matcher.record_update(acc, order, now, "EDITED_BY_USER", old=old_history)
        self.events.emit_order(acc.account_id, order, "EDITED_BY_USER")
        events: list[dict[str, Any]] = [{"type": "EDIT", "old": old_body, "new": new_body}]
        self.events.touch(acc.account_id)
        repriced = order.limit_price != old_body.get("limitPrice")
        # Only a new limit price can make the order cross: a remainder left resting
        # at a crossing price (the market's book is not depleted by our fills) stays put.
        if (
            repriced
            and not order.is_trigger
            and order.effective_type == "lmt"
            and order.limit_price
        ):
            bids, asks = self.prices.book(spec.symbol, now)
            taking = self.matcher.taking(
                order, spec, asks if order.side == "buy" else bids, order.limit_price
            )
            events += [
                self.matcher.fill(acc, order, spec, qty, price, now, "takerAfterEdit")
                for price, qty in taking.walk
            ]
        return events
