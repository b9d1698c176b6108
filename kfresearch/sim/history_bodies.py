"""The history service's element bodies, as the engine records them (reference §4.22–§4.26).

Each function returns ``(kind, body, tags)``: ``kind`` is the history
stream (``orders``, ``triggers``, ``executions``, ``positions``), ``body``
the element's ``event`` object and ``tags`` the flags the history filters
match on (``opened``/``closed``, and for positions the change and the reason
groups of §4.25). The engine stores them with
:meth:`~kfresearch.sim.ledger.Ledger.record`, which stamps the uid
and time.

Example
-------
>>> kind, body, tags = order_cancelled(order, "acc-uid", 1, "CANCELLED_BY_USER")  # doctest: +SKIP
>>> kind, sorted(body), tags  # doctest: +SKIP
('orders', ['OrderCancelled'], {'closed'})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfresearch.sim import margin
from kfresearch.sim.accounts import Fill, HistoryItem
from kfresearch.sim.formats import dec
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.orders import TRIGGER_TYPES, Order

__all__ = [
    "POSITION_CHANGE_TAGS",
    "POSITION_REASON_TAGS",
    "Recorded",
    "execution",
    "history_filter",
    "order_cancelled",
    "order_placed",
    "order_rejected",
    "order_updated",
    "position_update",
]

Recorded = tuple[str, dict[str, Any], set[str]]
"""(history stream, event body, filter tags)."""

NIL_UUID = "00000000-0000-0000-0000-000000000000"
# History-service position filters: the two groups of §4.25 ``/positions``.
POSITION_CHANGE_TAGS = ("opened", "closed", "increased", "decreased", "reversed", "no_change")
POSITION_REASON_TAGS = ("trades", "funding_realization", "settlement")
_CHANGE_TAG = {
    "open": "opened",
    "close": "closed",
    "increase": "increased",
    "decrease": "decreased",
    "reverse": "reversed",
    "noChange": "no_change",
}
_REASON_TAG = {
    "trade": "trades",
    "fundingRealisation": "funding_realization",
    "settlement": "settlement",
}


def order_placed(
    order: Order, account_uid: str, account_number: int, reduced: float | None
) -> Recorded:
    """A new order (or trigger) accepted onto the book."""
    body: dict[str, Any]
    if order.is_trigger:
        body = {
            "OrderTriggerPlaced": {
                "order": order.history_trigger(account_uid, account_number),
                "reason": "new_user_order",
            }
        }
        return "triggers", body, {"opened"}
    reason = "stop_order_triggered" if order.triggered else "new_user_order"
    body = {
        "OrderPlaced": {
            "order": order.history(account_uid),
            "reason": reason,
            "reducedQuantity": dec(reduced) if reduced else "",
        }
    }
    return "orders", body, {"opened"}


def order_rejected(order: Order, account_uid: str, account_number: int) -> Recorded:
    """An order refused at entry; ``order.error`` and ``update_reason`` are set already."""
    reason = (order.update_reason or "").lower()
    body: dict[str, Any]
    if order.order_type in TRIGGER_TYPES:
        body = {
            "OrderTriggerCancelled": {
                "order": order.history_trigger(account_uid, account_number),
                "reason": reason,
            }
        }
        return "triggers", body, {"closed"}
    body = {
        "OrderRejected": {
            "order": order.history(account_uid),
            "orderError": order.error,
            "reason": reason,
        }
    }
    return "orders", body, {"closed"}


def order_updated(
    order: Order, account_uid: str, reason: str, old: dict[str, Any] | None = None
) -> Recorded:
    """A fill or an edit; ``old`` is the order's history form before an edit."""
    body = {
        "OrderUpdated": {
            "oldOrder": old if old is not None else order.history(account_uid),
            "newOrder": order.history(account_uid),
            "reason": reason.lower(),
            "reducedQuantity": "",
        }
    }
    return "orders", body, {"closed"} if reason == "FULL_FILL" else set()


def order_cancelled(order: Order, account_uid: str, account_number: int, reason: str) -> Recorded:
    """An order (or a trigger that had not fired) taken off the book."""
    body: dict[str, Any]
    if order.order_type in TRIGGER_TYPES and not order.triggered:
        body = {
            "OrderTriggerCancelled": {
                "order": order.history_trigger(account_uid, account_number),
                "reason": reason.lower(),
            }
        }
        return "triggers", body, {"closed"}
    body = {"OrderCancelled": {"order": order.history(account_uid), "reason": reason.lower()}}
    return "orders", body, {"closed"}


def execution(
    order: Order,
    account_uid: str,
    spec: InstrumentSpec,
    fill: Fill,
    *,
    position: float,
    mark_price: float,
    counterparty_uid: str,
) -> Recorded:
    """A fill as a history ``Execution``; the other side is the anonymous market."""
    ours = order.history(account_uid)
    theirs = {
        "uid": counterparty_uid,
        "accountUid": NIL_UUID,
        "tradeable": spec.symbol,
        "direction": "Sell" if order.side == "buy" else "Buy",
        "quantity": dec(fill.quantity),
        "filled": dec(fill.quantity),
        "timestamp": fill.time_ms,
        "limitPrice": dec(fill.price),
        "orderType": "IoC" if fill.fill_type == "maker" else "Limit",
        "clientId": "",
        "reduceOnly": False,
        "lastUpdateTimestamp": fill.time_ms,
        "spotData": None,
    }
    maker = fill.fill_type == "maker"
    data = {
        "fee": dec(fill.fee),
        "positionSize": dec(position),
        "feeCalculationInfo": [
            {
                "percentageFee": dec(100 * fill.fee_rate),
                "userFeeDiscountApplied": None,
                "marketShareRebateCredited": None,
            }
        ],
    }
    body = {
        "uid": fill.fill_id,
        "makerOrder": ours if maker else theirs,
        "takerOrder": theirs if maker else ours,
        "timestamp": fill.time_ms,
        "quantity": dec(fill.quantity),
        "price": dec(fill.price),
        "markPrice": dec(mark_price),
        "limitFilled": maker and order.unfilled <= 0,
        "usdValue": dec(margin.notional_usd(spec, fill.quantity, fill.price), 8),
        "makerOrderData": data if maker else None,
        "takerOrderData": None if maker else data,
    }
    return "executions", {"Execution": {"execution": body, "takerReducedQuantity": ""}}, set()


def position_update(
    account_uid: str,
    symbol: str,
    t: int,
    *,
    old: tuple[float, float | None],
    new: tuple[float, float | None],
    change: str,
    reason: str,
    extra: dict[str, Any],
) -> Recorded:
    """A position change (size, entry) with its ``positionChange`` and ``updateReason``."""
    body: dict[str, Any] = {
        "accountUid": account_uid,
        "tradeable": symbol,
        "oldPosition": dec(old[0]),
        "oldAverageEntryPrice": dec(old[1]) if old[1] is not None and old[0] else None,
        "newPosition": dec(new[0]),
        "newAverageEntryPrice": dec(new[1]) if new[1] is not None and new[0] else "0",
        "positionChange": change,
        "timestamp": str(t),
        "updateReason": reason,
    } | extra
    return "positions", body, {_CHANGE_TAG[change], _REASON_TAG[reason]}


def history_filter(
    kind: str, tradeable: str | None, flags: dict[str, bool]
) -> Callable[[HistoryItem], bool]:
    """The row filter of a history query.

    For orders and triggers, ``true`` flags (``opened``, ``closed``) select
    and ``false`` flags exclude. For positions, true flags select within their
    group and both groups must match (reference §4.25); false flags have no
    effect there.
    """
    wanted = tradeable.upper() if tradeable else None
    if kind == "positions":
        groups = [
            {name for name in POSITION_CHANGE_TAGS if flags.get(name)},
            {name for name in POSITION_REASON_TAGS if flags.get(name)},
        ]
        dropped: set[str] = set()
    else:
        groups = [{name for name in ("opened", "closed") if flags.get(name)}]
        dropped = {name for name in ("opened", "closed") if flags.get(name) is False}

    def keep(item: HistoryItem) -> bool:
        if wanted is not None and item.tradeable != wanted:
            return False
        if item.tags & dropped:
            return False
        return all(not group or item.tags & group for group in groups)

    return keep
