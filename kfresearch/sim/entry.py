"""Order entry: a new order judged in the exchange's order of checks, then rested or executed.

Rejections are answers, not errors (reference §4.12): the status names are
those of the spec, checked in this order: ``wouldProcessAfterSpecifiedTime``,
``invalidOrderType``, ``invalidSide``, ``marketInactive`` (unknown or
expired symbol; the v3 API has no separate "unknown symbol" status),
``clientOrderIdTooLong``, ``clientOrderIdAlreadyExist`` (client ids are
never reused within an account, so a resend is always caught),
``invalidSize``, ``invalidPrice``; then, for an order that got an id,
``outsidePriceCollar``, ``wouldNotReducePosition``, ``maxPositionViolation``,
``insufficientAvailableFunds``, ``postWouldExecute``, ``selfFill``,
``iocWouldNotExecute`` (also for a ``fok`` that cannot fill completely: the
spec has no FOK status).
"""

from __future__ import annotations

from typing import Any

from kfresearch.sim import margin
from kfresearch.sim.accounts import Account
from kfresearch.sim.formats import iso
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.ledger import Ledger
from kfresearch.sim.matching import Matcher
from kfresearch.sim.orders import LIMIT_TYPES, ORDER_TYPES, TRIGGER_TYPES, Order, OrderRequest
from kfresearch.sim.prices import Prices
from kfresearch.sim.ticks import on_grid, trailing_stop_price
from kfresearch.sim.valuation import Valuation

__all__ = ["MAX_CLI_ORD_ID", "PRICE_COLLAR", "OrderEntry"]

PRICE_COLLAR = 0.10  # aggressive limit orders may not reach more than 10 % past the mark
MAX_CLI_ORD_ID = 100


class OrderEntry:
    """Judges and places new orders (see the module docstring)."""

    def __init__(self, prices: Prices, ledger: Ledger, valuation: Valuation, matcher: Matcher):
        self.prices = prices
        self.ledger = ledger
        self.valuation = valuation
        self.matcher = matcher

    def send(self, acc: Account, request: OrderRequest, now_ms: int) -> dict[str, Any]:
        """Judge and execute ``request``; the ``sendStatus`` payload of ``POST /sendorder``."""
        screened = self._screen(acc, request, now_ms)
        if isinstance(screened, str):
            head = {"cliOrdId": request.cli_ord_id} if request.cli_ord_id is not None else {}
            return head | {"status": screened, "receivedTime": iso(now_ms), "orderEvents": []}
        order = self._new_order(acc, request, screened, now_ms)
        status, events = self._admit(acc, order, screened, now_ms)
        body: dict[str, Any] = {"order_id": order.order_id}
        if order.cli_ord_id is not None:
            body["cliOrdId"] = order.cli_ord_id
        return body | {"status": status, "receivedTime": iso(now_ms), "orderEvents": events}

    def _screen(self, acc: Account, request: OrderRequest, now: int) -> str | InstrumentSpec:
        """Checks that need no order id: the first failing status, else the contract."""
        if request.process_before_ms is not None and now > request.process_before_ms:
            return "wouldProcessAfterSpecifiedTime"
        if request.order_type not in ORDER_TYPES:
            return "invalidOrderType"
        if request.side not in {"buy", "sell"}:
            return "invalidSide"
        spec = self.prices.spec(request.symbol, now)
        if spec is None:
            return "marketInactive"
        if request.cli_ord_id is not None and len(request.cli_ord_id) > MAX_CLI_ORD_ID:
            return "clientOrderIdTooLong"
        if request.cli_ord_id is not None and request.cli_ord_id in acc.cli_ids:
            return "clientOrderIdAlreadyExist"
        if request.size <= 0 or not on_grid(request.size, spec.size_step):
            return "invalidSize"
        for price in (request.limit_price, request.stop_price):
            if price is not None and (price <= 0 or not on_grid(price, spec.tick_size)):
                return "invalidPrice"
        return spec

    def _new_order(
        self, acc: Account, request: OrderRequest, spec: InstrumentSpec, now: int
    ) -> Order:
        seq = self.ledger.next_order_seq()
        order = Order(
            order_id=self.ledger.new_uid(),
            account_id=acc.account_id,
            symbol=spec.symbol,
            side=request.side,
            order_type=request.order_type,
            quantity=margin.round_size(spec, request.size),
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            trigger_signal=request.trigger_signal if request.order_type in TRIGGER_TYPES else None,
            reduce_only=request.reduce_only,
            cli_ord_id=request.cli_ord_id,
            received_ms=now,
            seq=seq,
            updated_ms=now,
            trailing_deviation=request.trailing_deviation,
            trailing_unit=request.trailing_unit,
            offset_value=request.offset_value,
            offset_unit=request.offset_unit,
        )
        if order.order_type == "trailing_stop":
            order.trail_extreme = self.prices.signal(
                spec.symbol, order.trigger_signal or "mark", now
            )
            order.stop_price = trailing_stop_price(order, spec)
        return order

    def _admit(
        self, acc: Account, order: Order, spec: InstrumentSpec, now: int
    ) -> tuple[str, list[dict[str, Any]]]:
        """Risk checks, then rest or execute. Returns the status and the order events."""
        status = self._risk_status(acc, order, spec, now)
        if status is not None:
            return status, [self.matcher.reject(acc, order, now, status)]
        reduced = self.matcher.clip_reduce_only(acc, order)
        if order.is_trigger:
            return "placed", [self.matcher.rest(acc, order, now, reduced)]
        status, events = self.matcher.execute(
            acc, order, spec, now, fill_type="taker", reduced=reduced
        )
        if status is not None:
            return status, [self.matcher.reject(acc, order, now, status)]
        return "placed", events

    def _risk_status(
        self, acc: Account, order: Order, spec: InstrumentSpec, now: int
    ) -> str | None:
        mark = self.prices.mark(spec.symbol, now)
        if order.order_type in LIMIT_TYPES and order.limit_price is not None:
            reach = order.limit_price / mark - 1
            if order.sign * reach > PRICE_COLLAR:
                return "outsidePriceCollar"
        position = acc.position_size(spec.symbol)
        if order.reduce_only:
            return None if position * order.sign < 0 else "wouldNotReducePosition"
        if abs(position + order.sign * order.quantity) > spec.max_position_size:
            return "maxPositionViolation"
        if not order.is_trigger and not self.valuation.margin_allows(acc, spec, now, order):
            return "insufficientAvailableFunds"
        return None
