"""Orders of the simulated exchange: the request, the order, and every JSON shape of an order.

An order is rendered in six vocabularies by the live exchange, and each has
its own names (reference §3.5, §4.11, §4.12, §4.20, §4.25):

* v3 order events (``sendorder``/``editorder``/``cancelorder``): ``orderId``,
  ``type`` (``lmt``/``post``/``ioc``/``fok``/``stp``…), numbers as JSON numbers;
* v3 trigger events: ``orderTrigger`` with ``triggerSide`` ``trigger_above``…;
* ``openorders``: ``order_id``, ``orderType``, decimals as strings;
* ``orders/status``: ``ORDER``/``TRIGGER_ORDER`` with ``priceTriggerOptions``;
* WebSocket ``open_orders``: ``instrument``, ``direction`` 0/1, ms times;
* history service: ``HistoricalOrder``/``HistoricalTrigger`` (``Buy``/``Sell``).

The tables below spell out those vocabularies as data; the renderers only
look them up. Times are epoch milliseconds, prices USD, sizes contracts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kfresearch.sim.clock import parse_time_ms
from kfresearch.sim.formats import SimError, dec, iso

__all__ = [
    "LIMIT_TYPES",
    "ORDER_TYPES",
    "TRIGGER_TYPES",
    "EditRequest",
    "Order",
    "OrderRequest",
    "parse_edit_request",
    "parse_order_request",
]

LIMIT_TYPES = frozenset({"lmt", "post", "ioc", "fok"})
TRIGGER_TYPES = frozenset({"stp", "take_profit", "trailing_stop"})
ORDER_TYPES = LIMIT_TYPES | TRIGGER_TYPES | {"mkt"}
SIGNALS = frozenset({"mark", "index", "last"})
OFFSET_UNITS = frozenset({"PERCENT", "QUOTE_CURRENCY"})

# v3 ``order.type``: the spec's enum has no ``mkt`` (a market order is an IOC
# with price protection), and a trigger that fired is a plain order.
_V3_TYPE = {
    "lmt": "lmt",
    "post": "post",
    "ioc": "ioc",
    "mkt": "ioc",
    "fok": "fok",
    "liquidation": "liquidation",
}
# ``openorders`` ``orderType`` enum (the spec's enum says ``stop``, §4.11).
_OPEN_TYPE = {"stp": "stop", "take_profit": "take_profit", "trailing_stop": "trailing_stop"}
# WebSocket ``open_orders`` ``type``.
_WS_TYPE = {"stp": "stop", "take_profit": "take_profit", "trailing_stop": "trailing_stop"}
# History ``orderType`` enum.
_HISTORY_TYPE = {
    "lmt": "Limit",
    "post": "Post",
    "ioc": "IoC",
    "fok": "IoC",
    "mkt": "Market",
    "liquidation": "Liquidation",
}
# The trigger signal in each vocabulary; ``index`` is the spot index.
_SIGNAL_V3 = {"mark": "mark_price", "last": "last_price", "index": "spot_price"}
_SIGNAL_OPEN = {"mark": "mark", "last": "last", "index": "spot"}
_SIGNAL_STATUS = {"mark": "MARK_PRICE", "last": "LAST_PRICE", "index": "SPOT_PRICE"}
_SIGNAL_HISTORY = {"mark": "MarkPrice", "last": "LastPrice", "index": "SpotPrice"}
_UNIT_HISTORY = {"PERCENT": "Percent", "QUOTE_CURRENCY": "QuoteCurrency"}
_UNIT_WS = {"PERCENT": "percent", "QUOTE_CURRENCY": "quote_currency"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise SimError("invalidArgument") from None
    if not math.isfinite(number):
        raise SimError("invalidArgument")
    return number


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text is None:
        return False
    if text.lower() in {"true", "1"}:
        return True
    if text.lower() in {"false", "0"}:
        return False
    raise SimError("invalidArgument")


@dataclass(frozen=True)
class OrderRequest:
    """A ``sendorder`` request (or a batch ``send`` item), parsed but not yet judged.

    ``order_type`` and ``side`` are kept as sent so that the engine can answer
    ``invalidOrderType``/``invalidSide`` statuses instead of errors.
    """

    order_type: str
    symbol: str
    side: str
    size: float
    limit_price: float | None = None
    stop_price: float | None = None
    trigger_signal: str = "mark"  # the reference names no default; the UI's is mark
    cli_ord_id: str | None = None
    reduce_only: bool = False
    trailing_deviation: float | None = None
    trailing_unit: str | None = None
    offset_value: float | None = None
    offset_unit: str | None = None
    process_before_ms: int | None = None


def parse_order_request(get: Callable[[str], Any]) -> OrderRequest:
    """Build an :class:`OrderRequest` from raw parameter values (form strings or JSON values).

    Raises
    ------
    SimError
        ``requiredArgumentMissing`` when ``orderType``, ``symbol``, ``side``,
        ``size`` or the prices the order type needs are absent;
        ``invalidArgument`` when a number, flag, signal or unit does not parse.
    """
    order_type, symbol, side = (_text(get(name)) for name in ("orderType", "symbol", "side"))
    size = _number(get("size"))
    if order_type is None or symbol is None or side is None or size is None:
        raise SimError("requiredArgumentMissing")
    # read in this order: the first value that does not parse is the one refused
    fields: dict[str, Any] = {
        "limit_price": _number(get("limitPrice")),
        "stop_price": _number(get("stopPrice")),
        "cli_ord_id": _text(get("cliOrdId")),
        "reduce_only": _flag(get("reduceOnly")),
        "trailing_deviation": _number(get("trailingStopMaxDeviation")),
        "trailing_unit": (_text(get("trailingStopDeviationUnit")) or "").upper() or None,
        "offset_value": _number(get("limitPriceOffsetValue")),
        "offset_unit": (_text(get("limitPriceOffsetUnit")) or "").upper() or None,
    }
    signal = (_text(get("triggerSignal")) or "mark").lower()
    if signal == "spot":
        signal = "index"
    if signal not in SIGNALS:
        raise SimError("invalidArgument")
    request = OrderRequest(
        order_type=order_type.lower(),
        symbol=symbol.upper(),
        side=side.lower(),
        size=size,
        trigger_signal=signal,
        process_before_ms=_time(get("processBefore")),
        **fields,
    )
    _check_required_prices(request)
    return request


def _check_required_prices(request: OrderRequest) -> None:
    kind = request.order_type
    if kind in LIMIT_TYPES and request.limit_price is None:
        raise SimError("requiredArgumentMissing")
    if kind in {"stp", "take_profit"} and request.stop_price is None:
        raise SimError("requiredArgumentMissing")
    if kind == "trailing_stop":
        if request.trailing_deviation is None or request.trailing_unit is None:
            raise SimError("requiredArgumentMissing")
        if request.trailing_unit not in OFFSET_UNITS:
            raise SimError("invalidArgument")
        low, high = (0.1, 50.0) if request.trailing_unit == "PERCENT" else (0.0, math.inf)
        if not low <= request.trailing_deviation <= high or request.trailing_deviation <= 0:
            raise SimError("invalidArgument")
        if request.limit_price is not None or request.stop_price is not None:
            # "leave unset for trailing_stop" (reference §4.12)
            raise SimError("invalidArgument")
    if (request.offset_value is None) != (request.offset_unit is None):
        raise SimError("requiredArgumentMissing")
    if request.offset_unit is not None:
        if request.offset_unit not in OFFSET_UNITS or kind not in TRIGGER_TYPES:
            raise SimError("invalidArgument")
        if request.limit_price is not None:
            raise SimError("invalidArgument")


@dataclass(frozen=True)
class EditRequest:
    """An ``editorder`` request (or batch ``edit`` item); ``None`` leaves a field unchanged."""

    order_id: str | None = None
    cli_ord_id: str | None = None
    size: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    trailing_deviation: float | None = None
    trailing_unit: str | None = None
    qty_mode: str = "RELATIVE"  # RELATIVE: new open size; ABSOLUTE: total including fills
    process_before_ms: int | None = None


def parse_edit_request(get: Callable[[str], Any], *, id_key: str = "orderId") -> EditRequest:
    """Build an :class:`EditRequest`; ``id_key`` is ``orderId`` (REST) or ``order_id`` (batch).

    Raises
    ------
    SimError
        ``requiredArgumentMissing`` without an order id or client id,
        ``invalidArgument`` for values that do not parse.
    """
    order_id, cli_ord_id = _text(get(id_key)), _text(get("cliOrdId"))
    if order_id is None and cli_ord_id is None:
        raise SimError("requiredArgumentMissing")
    qty_mode = (_text(get("qtyMode")) or "RELATIVE").upper()
    unit = (_text(get("trailingStopDeviationUnit")) or "").upper() or None
    if qty_mode not in {"RELATIVE", "ABSOLUTE"} or (unit is not None and unit not in OFFSET_UNITS):
        raise SimError("invalidArgument")
    return EditRequest(
        order_id=order_id,
        cli_ord_id=cli_ord_id,
        size=_number(get("size")),
        limit_price=_number(get("limitPrice")),
        stop_price=_number(get("stopPrice")),
        trailing_deviation=_number(get("trailingStopMaxDeviation")),
        trailing_unit=unit,
        qty_mode=qty_mode,
        process_before_ms=_time(get("processBefore")),
    )


def _time(value: Any) -> int | None:
    text = _text(value)
    try:
        return parse_time_ms(text) if text else None
    except ValueError:
        raise SimError("invalidArgument") from None


#: The fields of an :class:`Order` that :class:`~kfresearch.sim.openbook.OpenBook` reads.
_BOOKED_FIELDS = frozenset(
    {"symbol", "side", "order_type", "quantity", "filled", "limit_price", "reduce_only",
     "triggered"}
)


@dataclass
class Order:
    """An order the engine accepted (or rejected after giving it an id).

    ``order_type`` is the requested type. A trigger order that fired keeps
    that type but has ``triggered`` set; from then on it is a plain limit (or
    market) order. ``stop_price`` of a trailing stop moves with the market;
    ``trail_extreme`` is the best signal price seen since placement.
    """

    order_id: str
    account_id: str
    symbol: str
    side: str
    order_type: str
    quantity: float
    limit_price: float | None
    stop_price: float | None
    trigger_signal: str | None
    reduce_only: bool
    cli_ord_id: str | None
    received_ms: int
    seq: int
    filled: float = 0.0
    updated_ms: int = 0
    trailing_deviation: float | None = None
    trailing_unit: str | None = None
    offset_value: float | None = None
    offset_unit: str | None = None
    trail_extreme: float | None = None
    triggered: bool = False
    triggered_ms: int | None = None
    status: str = "open"  # open | filled | cancelled | rejected
    closed_ms: int | None = None
    update_reason: str = "NEW_USER_ORDER"
    error: str | None = None
    # contracts ahead of it at its price when it rested (sources that model queues)
    queue_ahead: float | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # an order on an account's book keeps the book's sums and prices up to date
        book = self.__dict__.get("_book")
        if book is None or name not in _BOOKED_FIELDS:
            object.__setattr__(self, name, value)
            return
        book.before_change(self)
        try:
            object.__setattr__(self, name, value)
        finally:
            book.after_change(self)

    @property
    def unfilled(self) -> float:
        return max(self.quantity - self.filled, 0.0)

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def is_trigger(self) -> bool:
        """A stop/take-profit/trailing order still waiting for its trigger."""
        return self.order_type in TRIGGER_TYPES and not self.triggered

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def effective_type(self) -> str:
        """What the order is now: a fired trigger is ``lmt`` (or ``mkt`` without a limit)."""
        if self.order_type in TRIGGER_TYPES and self.triggered:
            return "lmt" if self.limit_price is not None else "mkt"
        return self.order_type

    @property
    def trigger_side(self) -> str:
        """``above`` when the trigger fires on a rise, ``below`` on a fall."""
        rises = (self.order_type == "take_profit") == (self.side == "sell")
        return "above" if rises else "below"

    # -- v3 (sendorder / editorder / cancelorder events) -----------------

    def v3(self) -> dict[str, Any]:
        """The ``order`` object of v3 order events (numbers as JSON numbers)."""
        body: dict[str, Any] = {
            "orderId": self.order_id,
            "cliOrdId": self.cli_ord_id,
            "type": _V3_TYPE.get(self.effective_type, "lmt"),
            "symbol": self.symbol,
            "side": self.side,
            "quantity": self.quantity,
            "filled": self.filled,
            "limitPrice": self.limit_price,
            "reduceOnly": self.reduce_only,
            "timestamp": iso(self.received_ms),
            "lastUpdateTimestamp": iso(self.updated_ms or self.received_ms),
        }
        return body

    def v3_trigger(self) -> dict[str, Any]:
        """The ``orderTrigger`` object of v3 trigger events.

        ``type`` is the order the trigger will send: ``lmt`` with a limit
        price, ``mkt`` without (not spelled out in the reference).
        """
        return {
            "uid": self.order_id,
            "clientId": self.cli_ord_id,
            "type": "lmt" if self.limit_price is not None or self.offset_unit else "mkt",
            "symbol": self.symbol,
            "side": self.side,
            "quantity": self.quantity,
            "limitPrice": self.limit_price,
            "triggerPrice": self.stop_price,
            "triggerSide": f"trigger_{self.trigger_side}",
            "triggerSignal": _SIGNAL_V3[self.trigger_signal or "mark"],
            "reduceOnly": self.reduce_only,
            "timestamp": iso(self.received_ms),
            "lastUpdateTimestamp": iso(self.updated_ms or self.received_ms),
            "startTime": None,
        }

    def v3_event_body(self) -> tuple[str, dict[str, Any]]:
        """Key and object for an event: ``orderTrigger`` while waiting, else ``order``."""
        return ("orderTrigger", self.v3_trigger()) if self.is_trigger else ("order", self.v3())

    # -- openorders -------------------------------------------------------

    def open_order(self) -> dict[str, Any]:
        """An ``openOrders[]`` row (decimals as strings, as recorded 2025 bodies send them)."""
        kind = self.effective_type if not self.is_trigger else self.order_type
        body: dict[str, Any] = {"order_id": self.order_id}
        if self.cli_ord_id is not None:
            body["cliOrdId"] = self.cli_ord_id
        body |= {
            "status": "partiallyFilled" if self.filled > 0 else "untouched",
            "side": self.side,
            "orderType": _OPEN_TYPE.get(kind, "lmt"),
            "symbol": self.symbol,
        }
        if self.limit_price is not None:
            body["limitPrice"] = dec(self.limit_price)
        if self.is_trigger:
            body["stopPrice"] = dec(self.stop_price or 0.0)
            body["triggerSignal"] = _SIGNAL_OPEN[self.trigger_signal or "mark"]
        body |= {
            "filledSize": dec(self.filled),
            "unfilledSize": dec(self.unfilled),
            "reduceOnly": self.reduce_only,
            "lastUpdateTime": iso(self.updated_ms or self.received_ms),
            "receivedTime": iso(self.received_ms),
        }
        return body

    # -- orders/status ----------------------------------------------------

    def status_entry(self) -> dict[str, Any]:
        """An ``orders/status`` row: the order, its life-cycle status and last update reason."""
        trigger = None
        if self.order_type in TRIGGER_TYPES:
            trigger = {
                "triggerPrice": self.stop_price,
                "triggerSide": f"TRIGGER_{self.trigger_side.upper()}",
                "triggerSignal": _SIGNAL_STATUS[self.trigger_signal or "mark"],
            }
        order = {
            "type": "TRIGGER_ORDER" if self.is_trigger else "ORDER",
            "orderId": self.order_id,
            "cliOrdId": self.cli_ord_id,
            "symbol": self.symbol,
            "side": self.side,
            "quantity": self.quantity,
            "filled": self.filled,
            "limitPrice": self.limit_price,
            "reduceOnly": self.reduce_only,
            "timestamp": iso(self.received_ms),
            "lastUpdateTimestamp": iso(self.updated_ms or self.received_ms),
            "priceTriggerOptions": trigger,
            "triggerTime": iso(self.triggered_ms) if self.triggered_ms is not None else None,
        }
        return {
            "order": order,
            "status": self._life_status(),
            "updateReason": self.update_reason,
            "error": self.error,
        }

    def _life_status(self) -> str:
        if self.status == "filled":
            return "FULLY_EXECUTED"
        if self.status == "rejected":
            return "REJECTED"
        if self.status == "cancelled":
            return "TRIGGER_ACTIVATION_FAILURE" if self.error and self.triggered else "CANCELLED"
        return "TRIGGER_PLACED" if self.is_trigger else "ENTERED_BOOK"

    # -- WebSocket open_orders ----------------------------------------------

    def ws(self) -> dict[str, Any]:
        """An order of the ``open_orders`` feed (``direction`` 0 = buy, 1 = sell)."""
        kind = self.order_type if self.is_trigger else self.effective_type
        body: dict[str, Any] = {
            "instrument": self.symbol,
            "time": self.received_ms,
            "last_update_time": self.updated_ms or self.received_ms,
            "qty": self.quantity,
            "filled": self.filled,
            "limit_price": self.limit_price if self.limit_price is not None else 0.0,
            "stop_price": (self.stop_price or 0.0) if self.is_trigger else 0.0,
            "type": _WS_TYPE.get(kind, "limit"),
            "order_id": self.order_id,
            "direction": 0 if self.side == "buy" else 1,
            "reduce_only": self.reduce_only,
        }
        if self.cli_ord_id is not None:
            body["cli_ord_id"] = self.cli_ord_id
        if self.is_trigger:
            body["triggerSignal"] = _SIGNAL_OPEN[self.trigger_signal or "mark"]
        if self.is_trigger and self.trailing_unit:
            body["trailing_stop_options"] = {
                "max_deviation": self.trailing_deviation,
                "unit": _UNIT_WS[self.trailing_unit],
            }
        if self.is_trigger and self.offset_unit:
            body["limit_price_offset"] = {
                "price_offset": self.offset_value,
                "unit": _UNIT_WS[self.offset_unit],
            }
        return body

    # -- history service ----------------------------------------------------

    def history(self, account_uid: str) -> dict[str, Any]:
        """A ``HistoricalOrder`` (decimals as strings, times as epoch ms)."""
        return {
            "uid": self.order_id,
            "accountUid": account_uid,
            "tradeable": self.symbol,
            "direction": "Buy" if self.side == "buy" else "Sell",
            "quantity": dec(self.quantity),
            "filled": dec(self.filled),
            "timestamp": self.received_ms,
            "limitPrice": dec(self.limit_price) if self.limit_price is not None else "0",
            "orderType": _HISTORY_TYPE.get(self.effective_type, "Limit"),
            "clientId": self.cli_ord_id or "",
            "reduceOnly": self.reduce_only,
            "lastUpdateTimestamp": self.updated_ms or self.received_ms,
            "spotData": None,
        }

    def history_trigger(self, account_uid: str, account_number: int) -> dict[str, Any]:
        """A ``HistoricalTrigger`` (``accountId`` a string, as in recorded data)."""
        trailing = None
        if self.trailing_unit:
            trailing = {
                "maxDeviation": dec(self.trailing_deviation or 0.0),
                "unit": _UNIT_HISTORY[self.trailing_unit],
            }
        offset = None
        if self.offset_unit:
            offset = {
                "priceOffset": dec(self.offset_value or 0.0),
                "unit": _UNIT_HISTORY[self.offset_unit],
            }
        return {
            "uid": self.order_id,
            "accountId": str(account_number),
            "accountUid": account_uid,
            "tradeable": self.symbol,
            "direction": "Buy" if self.side == "buy" else "Sell",
            "quantity": dec(self.quantity),
            "timestamp": self.received_ms,
            "limitPrice": dec(self.limit_price) if self.limit_price is not None else "0",
            "orderType": "Limit" if self.limit_price is not None else "Market",
            "clientId": self.cli_ord_id or "",
            "reduceOnly": self.reduce_only,
            "lastUpdateTimestamp": self.updated_ms or self.received_ms,
            "triggerOptions": {
                "triggerPrice": dec(self.stop_price or 0.0),
                "triggerSignal": _SIGNAL_HISTORY[self.trigger_signal or "mark"],
                "triggerSide": self.trigger_side.capitalize(),
                "trailingStopOptions": trailing,
                "limitPriceOffset": offset,
            },
        }
