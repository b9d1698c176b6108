"""Trading methods of the simulator's Unified WebSocket, on the exchange's one engine.

``add_order``, ``amend_order``, ``cancel_order``, ``cancel_all``,
``cancel_all_orders_after``, ``batch_add`` and ``batch_cancel`` (reference
§1.7, §1.8, §6) turn into the same engine calls as v3 ``sendorder``,
``editorder``, ``cancelorder``, ``cancelallorders``, ``cancelallordersafter``
(so an order placed here shows in v3 ``openorders`` and the other way round,
and client order ids are unique across both).

Mapping (UWS → engine): ``limit`` → ``lmt`` (``post`` with ``post_only``,
``ioc``/``fok`` with that ``time_in_force``); ``market`` → ``mkt``;
``stop-loss[-limit]`` → ``stp``; ``take-profit[-limit]`` → ``take_profit``;
``trailing-stop`` → ``trailing_stop`` (``triggers.price`` is the distance,
``price_type`` ``pct`` or ``quote``). ``triggers.reference`` is ``last``
(default) or ``index``; a ``pct``/``quote`` trigger price is an offset from
the reference price now. Not for derivatives, refused: ``gtd``,
``trailing-stop-limit`` (its limit is an offset, and derivatives take static
limit prices only), ``iceberg``, ``display_qty``, ``expire_time``,
``fee_preference``, ``margin``, ``order_userref``, ``leverage``,
``conditional`` (not modelled).

``validate: true`` checks the request and the contract's size and price
grid but not margin, and places nothing (``order_id`` ``""``). ``deadline``
(RFC 3339) must be in the future and at most 60 s away.

Rejections are one ``error`` string: ``EOrder:<the v3 status>`` (such as
``EOrder:postWouldExecute``), but for :data:`ORDER_ERRORS`. Each method gives
a list of outcomes ``(result, error)``, one answer each: one for every
method but ``cancel_order``, which answers each id on its own (as Spot v2
does); ``batch_add`` may give both a result and an error (some rows failed,
the others were placed, §6).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kfresearch.sim.orders import EditRequest, OrderRequest
from kfresearch.sim.uws.protocol import ERRORS, UwsError, check_fields

__all__ = ["ORDER_ERRORS", "TRADING_METHODS", "Trader"]

#: engine statuses answered otherwise than ``EOrder:<status>`` (agreed with the client:
#: the v3 status verbatim keeps its documented meaning; the reference quotes none)
ORDER_ERRORS = {
    "orderForEditNotFound": ERRORS["unknown_order"],
    "clientOrderIdTooLong": "EGeneral:Invalid arguments:cl_ord_id is a UUID, 32 hex digits "
    "or up to 18 of A-Z a-z 0-9 _ -",
}
ORDER_TYPES = {
    "limit": "lmt",
    "market": "mkt",
    "stop-loss": "stp",
    "stop-loss-limit": "stp",
    "take-profit": "take_profit",
    "take-profit-limit": "take_profit",
    "trailing-stop": "trailing_stop",
}
NOT_FOR_DERIVATIVES = ("trailing-stop-limit", "iceberg", "settle-position")
ORDER_FIELDS = (
    "order_type", "side", "order_qty", "symbol", "limit_price", "limit_price_type",
    "triggers", "time_in_force", "post_only", "reduce_only", "cl_ord_id", "stp_type",
)
TOP_FIELDS = ("asset_class", "token", "validate", "deadline")
CL_ORD_ID = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[A-Za-z0-9_-]{1,18})$"
)
DEADLINE_MS = 60_000
BATCH_ADD = (2, 15)
BATCH_CANCEL = (2, 50)
Message = dict[str, Any]
Outcome = tuple[Any, UwsError | None]


def _number(params: dict[str, Any], name: str, *, required: bool = False) -> float | None:
    value = params.get(name)
    if value is None:
        if required:
            raise UwsError.of("missing", name)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UwsError.of("invalid", f"{name} must be a number")
    try:
        number = float(value)
    except ValueError:
        raise UwsError.of("invalid", f"{name} must be a number") from None
    if not math.isfinite(number):
        raise UwsError.of("invalid", f"{name} must be a number")
    return number


def _flag(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if not isinstance(value, bool):
        raise UwsError.of("invalid", f"{name} must be true or false")
    return value


def _id_list(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UwsError.of("invalid", f"{name} must be a list of strings")
    return list(value)


def _rfc3339_ms(text: object, name: str) -> int:
    if not isinstance(text, str):
        raise UwsError.of("invalid", f"{name} must be an RFC 3339 time")
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UwsError.of("invalid", f"{name} must be an RFC 3339 time") from None
    if dt.tzinfo is None:
        raise UwsError.of("invalid", f"{name} needs a time zone")
    return round(dt.timestamp() * 1000)


class Trader:
    """The trading methods for one account, run with the exchange locked.

    Parameters
    ----------
    exchange : SimExchange
    account_id : str
    can_trade : bool
        Whether the token's key may trade (a read-only key may not).
    """

    def __init__(self, exchange: Any, account_id: str, *, can_trade: bool) -> None:
        self.exchange = exchange
        self.engine = exchange.engine
        self.account_id = account_id
        self.can_trade = can_trade

    def run(self, method: str, params: dict[str, Any], now: int) -> list[Outcome]:
        """The outcomes of ``method`` (see the module docstring).

        Raises
        ------
        UwsError
            The request is refused as a whole.
        """
        if not self.can_trade:
            raise UwsError.of("permission")
        return TRADING_METHODS[method](self, params, now)

    # -- add_order -------------------------------------------------------------------------
    def add_order(self, params: dict[str, Any], now: int) -> list[Outcome]:
        check_fields(params, ORDER_FIELDS + TOP_FIELDS)
        validate = _flag(params, "validate")
        self._deadline(params, now)
        request = self._order_request(params, params.get("symbol"), now)
        if validate:
            return [(self._validated(request, now), None)]
        return [(self._place(request, now), None)]

    def _deadline(self, params: dict[str, Any], now: int) -> None:
        if "deadline" not in params:
            return
        deadline = _rfc3339_ms(params["deadline"], "deadline")
        if deadline <= now:
            raise UwsError(_rejection("wouldProcessAfterSpecifiedTime"))
        if deadline > now + DEADLINE_MS:
            raise UwsError.of("invalid", "deadline is more than 60 s away")

    def _order_request(self, params: dict[str, Any], symbol: object, now: int) -> OrderRequest:
        kind = params.get("order_type")
        if kind is None:
            raise UwsError.of("missing", "order_type")
        if kind in NOT_FOR_DERIVATIVES:
            raise UwsError.of("invalid", f"order_type {kind} is not available for derivatives")
        if kind not in ORDER_TYPES:
            raise UwsError.of("invalid", f"order_type {kind}")
        side = params.get("side")
        if side not in {"buy", "sell"}:
            raise UwsError.of("missing" if side is None else "invalid", "side")
        if not isinstance(symbol, str):
            raise UwsError.of("missing", "symbol")
        size = _number(params, "order_qty", required=True)
        limit = _number(params, "limit_price")
        if params.get("limit_price_type", "static") != "static":
            raise UwsError.of("invalid", "limit_price_type: only static for derivatives")
        tif = params.get("time_in_force", "gtc")
        if tif == "gtd":
            raise UwsError.of("invalid", "time_in_force gtd is not available for derivatives")
        if tif not in {"gtc", "ioc", "fok"}:
            raise UwsError.of("invalid", "time_in_force")
        post_only, reduce_only = _flag(params, "post_only"), _flag(params, "reduce_only")
        cl_ord_id = params.get("cl_ord_id")
        if cl_ord_id is not None and (
            not isinstance(cl_ord_id, str) or not CL_ORD_ID.match(cl_ord_id)
        ):
            raise UwsError(ORDER_ERRORS["clientOrderIdTooLong"])
        engine_type = ORDER_TYPES[kind]
        if kind == "limit":
            if limit is None:
                raise UwsError.of("missing", "limit_price")
            if post_only and tif != "gtc":
                raise UwsError.of("invalid", "post_only needs time_in_force gtc")
            engine_type = "post" if post_only else {"gtc": "lmt", "ioc": "ioc", "fok": "fok"}[tif]
        elif post_only:
            raise UwsError.of("invalid", "post_only is for limit orders")
        elif tif != "gtc" and kind != "market":
            raise UwsError.of("invalid", f"time_in_force {tif} is for limit orders")
        if kind.endswith("-limit") and limit is None:
            raise UwsError.of("missing", "limit_price")
        if kind in {"market", "stop-loss", "take-profit", "trailing-stop"} and limit is not None:
            raise UwsError.of("unsupported", "limit_price")
        fields: Message = {}
        if engine_type in {"stp", "take_profit", "trailing_stop"}:
            fields = self._trigger(params.get("triggers"), kind, str(symbol), now)
        elif "triggers" in params:
            raise UwsError.of("unsupported", "triggers")
        return OrderRequest(
            order_type=engine_type,
            symbol=symbol.upper(),
            side=str(side),
            size=size or 0.0,
            limit_price=limit,
            cli_ord_id=cl_ord_id,
            reduce_only=reduce_only,
            **fields,
        )

    def _trigger(self, triggers: object, kind: str, symbol: str, now: int) -> Message:
        if not isinstance(triggers, dict):
            raise UwsError.of("missing", "triggers")
        check_fields(triggers, ("reference", "price", "price_type"))
        reference = triggers.get("reference", "last")
        if reference not in {"last", "index"}:
            raise UwsError.of("invalid", "triggers.reference must be last or index")
        price = _number(triggers, "price", required=True) or 0.0
        price_type = triggers.get("price_type", "static")
        if price_type not in {"static", "pct", "quote"}:
            raise UwsError.of("invalid", "triggers.price_type must be static, pct or quote")
        if kind == "trailing-stop":
            if price_type == "static":
                raise UwsError.of("invalid", "a trailing stop's price_type is pct or quote")
            unit = "PERCENT" if price_type == "pct" else "QUOTE_CURRENCY"
            return {"trigger_signal": reference, "trailing_deviation": abs(price),
                    "trailing_unit": unit}
        if price_type != "static":
            spec = self.engine.spec(symbol, now)
            if spec is None:
                raise UwsError(_rejection("marketInactive"))
            base = (self.engine.market.index_price(spec.symbol, now) if reference == "index"
                    else self.engine.market.last_price(spec.symbol, now))
            raw = base * (1 + price / 100) if price_type == "pct" else base + price
            price = round(round(raw / spec.tick_size) * spec.tick_size, spec.tick_decimals)
        return {"trigger_signal": reference, "stop_price": price}

    def _validated(self, request: OrderRequest, now: int) -> Message:
        spec = self.engine.spec(request.symbol, now)
        if spec is None:
            raise UwsError(_rejection("marketInactive"))
        acc = self.engine.account(self.account_id, now)
        if request.cli_ord_id is not None and request.cli_ord_id in acc.cli_ids:
            raise UwsError(_rejection("clientOrderIdAlreadyExist"))
        if request.size <= 0 or not _on_grid(request.size, spec.size_step):
            raise UwsError(_rejection("invalidSize"))
        for price in (request.limit_price, request.stop_price):
            if price is not None and (price <= 0 or not _on_grid(price, spec.tick_size)):
                raise UwsError(_rejection("invalidPrice"))
        result: Message = {"order_id": ""}
        if request.cli_ord_id is not None:
            result["cl_ord_id"] = request.cli_ord_id
        return result

    def _place(self, request: OrderRequest, now: int) -> Message:
        status = self.engine.send_order(self.account_id, request, now)
        if status["status"] != "placed":
            raise UwsError(_rejection(status["status"]))
        result: Message = {"order_id": status["order_id"]}
        if request.cli_ord_id is not None:
            result["cl_ord_id"] = request.cli_ord_id
        return result

    # -- amend_order -----------------------------------------------------------------------
    def amend_order(self, params: dict[str, Any], now: int) -> list[Outcome]:
        check_fields(params, (
            "order_id", "cl_ord_id", "order_qty", "limit_price", "limit_price_type", "post_only",
            "trigger_price", "trigger_price_type", "display_qty", "deadline", "asset_class",
            "token",
        ))
        if "display_qty" in params:
            raise UwsError.of("unsupported", "display_qty")
        self._deadline(params, now)
        order_id, cl_ord_id = params.get("order_id"), params.get("cl_ord_id")
        if (order_id is None) == (cl_ord_id is None):
            raise UwsError.of("missing", "order_id or cl_ord_id (one of them)")
        acc = self.engine.account(self.account_id, now)
        order = acc.find_order(order_id, cl_ord_id)
        if order is None or not order.is_open:
            raise UwsError.of("unknown_order")
        if params.get("limit_price_type", "static") != "static":
            raise UwsError.of("invalid", "limit_price_type: only static for derivatives")
        limit = _number(params, "limit_price")
        trigger = _number(params, "trigger_price")
        if trigger is not None and params.get("trigger_price_type", "static") != "static":
            raise UwsError.of("invalid", "trigger_price_type: only static is modelled")
        if _flag(params, "post_only") and limit is not None and order.order_type != "post":
            bids, asks = self.engine.market.book(order.symbol, now, 1)
            best = asks[0][0] if order.side == "buy" else bids[0][0]
            if order.sign * (best - limit) <= 0:
                raise UwsError(_rejection("postWouldExecute"))
        request = EditRequest(
            order_id=order.order_id,
            size=_number(params, "order_qty"),
            limit_price=limit,
            stop_price=trigger if order.order_type != "trailing_stop" else None,
            trailing_deviation=trigger if order.order_type == "trailing_stop" else None,
            qty_mode="ABSOLUTE",
        )
        status = self.engine.edit_order(self.account_id, request, now)
        if status["status"] != "edited":
            raise UwsError(_rejection(status["status"]))
        result: Message = {"amend_id": self.exchange.uws.new_id(), "order_id": order.order_id}
        if order.cli_ord_id is not None:
            result["cl_ord_id"] = order.cli_ord_id
        return [(result, None)]

    # -- cancelling ------------------------------------------------------------------------
    def cancel_order(self, params: dict[str, Any], now: int) -> list[Outcome]:
        """One outcome per ``order_id``, then per ``cl_ord_id``."""
        check_fields(params, ("order_id", "cl_ord_id", "order_userref", "asset_class", "token"))
        if "order_userref" in params:
            raise UwsError.of("unsupported", "order_userref")
        order_ids, cl_ord_ids = _id_list(params, "order_id"), _id_list(params, "cl_ord_id")
        if not order_ids and not cl_ord_ids:
            raise UwsError.of("missing", "order_id or cl_ord_id")
        out: list[Outcome] = []
        for ident, key in [(i, "order_id") for i in order_ids] + [
            (c, "cl_ord_id") for c in cl_ord_ids
        ]:
            status = self.engine.cancel_order(
                self.account_id,
                ident if key == "order_id" else None,
                ident if key == "cl_ord_id" else None,
                now,
            )
            result: Message = {key: ident}
            if key == "cl_ord_id" and status.get("order_id"):
                result = {"order_id": status["order_id"], "cl_ord_id": ident}
            error = None if status["status"] == "cancelled" else UwsError.of("unknown_order")
            out.append((result, error))
        return out

    def cancel_all(self, params: dict[str, Any], now: int) -> list[Outcome]:
        check_fields(params, ("asset_class", "token"))
        answer = self.engine.cancel_all(self.account_id, None, now)
        return [({"count": len(answer["cancelledOrders"])}, None)]

    def cancel_all_orders_after(
        self, params: dict[str, Any], now: int
    ) -> list[Outcome]:
        check_fields(params, ("timeout", "asset_class", "token"))
        timeout = params.get("timeout")
        if timeout is None:
            raise UwsError.of("missing", "timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
            raise UwsError.of("invalid", "timeout must be whole seconds, 0 to disarm")
        self.engine.cancel_all_after(self.account_id, timeout, now)
        trigger = "0" if timeout == 0 else _iso_seconds(now + timeout * 1000)
        return [({"currentTime": _iso_seconds(now), "triggerTime": trigger}, None)]

    # -- batches ---------------------------------------------------------------------------
    def batch_add(self, params: dict[str, Any], now: int) -> list[Outcome]:
        check_fields(params, ("orders", "symbol", *TOP_FIELDS))
        orders = params.get("orders")
        if not isinstance(orders, list):
            raise UwsError.of("missing", "orders")
        low, high = BATCH_ADD
        if not low <= len(orders) <= high:
            raise UwsError.of("invalid", f"orders must hold {low} to {high} orders")
        symbol = params.get("symbol")
        validate = _flag(params, "validate")
        self._deadline(params, now)
        requests = []
        for order in orders:
            if not isinstance(order, dict):
                raise UwsError.of("invalid", "each order must be an object")
            check_fields(order, ORDER_FIELDS)
            if "symbol" in order:
                raise UwsError.of("unsupported", "symbol")
            requests.append(self._order_request(order, symbol, now))
        rows: list[Message] = []
        failures: list[str] = []
        for request in requests:
            try:
                row = self._validated(request, now) if validate else self._place(request, now)
            except UwsError as error:
                row = {"order_id": "", "error": error.text}
                if request.cli_ord_id is not None:
                    row["cl_ord_id"] = request.cli_ord_id
                failures.append(error.text)
            rows.append(row)
        return [(rows, UwsError(failures[0]) if failures else None)]

    def batch_cancel(self, params: dict[str, Any], now: int) -> list[Outcome]:
        check_fields(params, ("orders", "cl_ord_id", "asset_class", "token"))
        order_ids, cl_ord_ids = _id_list(params, "orders"), _id_list(params, "cl_ord_id")
        low, high = BATCH_CANCEL
        if not low <= len(order_ids) + len(cl_ord_ids) <= high:
            raise UwsError.of("invalid", f"orders and cl_ord_id must hold {low} to {high} ids")
        count = 0
        for ident in order_ids:
            status = self.engine.cancel_order(self.account_id, ident, None, now)
            count += status["status"] == "cancelled"
        for ident in cl_ord_ids:
            status = self.engine.cancel_order(self.account_id, None, ident, now)
            count += status["status"] == "cancelled"
        return [({"count": count}, None)]


def _rejection(status: str) -> str:
    """The error text of an engine status."""
    return ORDER_ERRORS.get(status, f"EOrder:{status}")


def _on_grid(value: float, step: float) -> bool:
    units = value / step
    return abs(units - round(units)) < 1e-7


def _iso_seconds(ms: int) -> str:
    """``2026-11-20T10:00:00Z``: the dead man's switch answers whole seconds."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Method = Callable[[Trader, dict[str, Any], int], list[Outcome]]
TRADING_METHODS: dict[str, Method] = {
    "add_order": Trader.add_order,
    "amend_order": Trader.amend_order,
    "cancel_order": Trader.cancel_order,
    "cancel_all": Trader.cancel_all,
    "cancel_all_orders_after": Trader.cancel_all_orders_after,
    "batch_add": Trader.batch_add,
    "batch_cancel": Trader.batch_cancel,
}
