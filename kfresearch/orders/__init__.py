"""Orders, the pure part: validation, wire parameters, results, explanations, resolution.

Nothing here sends a request. Each order-changing call of the client is a
*plan* (like :mod:`kfresearch.queries`): a generator that validates its
arguments, yields batches of :class:`~kfresearch.queries.Call`, receives the
decoded bodies (or, thrown into it, the error a call raised) and returns a
typed result. :class:`~kfresearch.Client` and :class:`~kfresearch.AsyncClient`
only drive the plans (:mod:`kfresearch.trading`), so the two share every
decision.

Validation (before anything is sent)
------------------------------------
From the instrument's rules (``GET /instruments``, reference §4.1, §7.6):
price on the ``tickSize`` grid, size a positive multiple of the contract step
``10**-contractValueTradePrecision`` (which is also the minimum), resulting
position within ``maxPositionSize``, limit price within the exchange's price
collar around the mark (:data:`PRICE_COLLAR`), and the prices each order type
needs (reference §4.12). Each error is a
:class:`~kfresearch.errors.ValidationError` naming the field, the value and
what would be valid::

    limit_price 88000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid: 88000 or 88001

Rejections
----------
The exchange answers a rejected order with ``result: success`` and a status
(reference §4.12–§4.18, §5.1). :func:`explain` turns every documented status
into plain words with what to do next (:data:`EXPLANATIONS`); the result
builders raise :class:`~kfresearch.errors.OrderRejected` for them.

Idempotency
-----------
Every new order carries a client order id (``cliOrdId``). When the transport
cannot tell whether an order-changing request was processed
(:class:`~kfresearch.errors.OutcomeUnknownError`), the plan looks the order up
by that id: ``orders/status`` (open orders and those closed in the last 5 s,
reference §4.20), then ``openorders``, then ``fills``. Only when none of them
knows the order is it sent again, with the *same* client order id, so the
exchange itself refuses a second copy (``clientOrderIdAlreadyExist``).

Example
-------
>>> rules = InstrumentRules.from_instrument({"symbol": "PF_XBTUSD", "tickSize": 1,
...     "contractValueTradePrecision": 4, "maxPositionSize": 1000000, "tradeable": True})
>>> [str(e) for e in check_send(Send("PF_XBTUSD", "buy", 0.001, limit_price=88000.3), rules)]
['limit_price 88000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid: 88000 or 88001']
"""

from __future__ import annotations

from kfresearch.orders.plans import (
    plan_batch,
    plan_cancel,
    plan_cancel_all,
    plan_cancel_all_after,
    plan_edit,
    plan_lookup,
    plan_order_status,
    plan_place,
)
from kfresearch.orders.preview import (
    OrderContext,
    OrderPreview,
    plan_context,
    preview,
)
from kfresearch.orders.requests import (
    Cancel,
    Edit,
    Instruction,
    Send,
    Trailing,
    check_edit,
    check_send,
    send_params,
)
from kfresearch.orders.results import (
    BatchResult,
    CancelAllResult,
    OrderResult,
    SwitchStatus,
    status_frame,
)
from kfresearch.orders.rules import (
    InstrumentRules,
    new_client_order_id,
    rules_for,
)
from kfresearch.orders.statuses import (
    EXPLANATIONS,
    LIMIT_TYPES,
    ORDER_TYPES,
    PRICE_COLLAR,
    TRIGGER_TYPES,
    TradePlan,
    explain,
)

__all__ = [
    "EXPLANATIONS",
    "LIMIT_TYPES",
    "ORDER_TYPES",
    "PRICE_COLLAR",
    "TRIGGER_TYPES",
    "BatchResult",
    "Cancel",
    "CancelAllResult",
    "Edit",
    "Instruction",
    "InstrumentRules",
    "OrderContext",
    "OrderPreview",
    "OrderResult",
    "Send",
    "SwitchStatus",
    "TradePlan",
    "Trailing",
    "check_edit",
    "check_send",
    "explain",
    "new_client_order_id",
    "plan_batch",
    "plan_cancel",
    "plan_cancel_all",
    "plan_cancel_all_after",
    "plan_context",
    "plan_edit",
    "plan_lookup",
    "plan_order_status",
    "plan_place",
    "preview",
    "rules_for",
    "send_params",
    "status_frame",
]
