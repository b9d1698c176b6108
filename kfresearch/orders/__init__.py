"""Orders, the pure part: validation, wire parameters, results, explanations, resolution.

Nothing here sends a request. Each order-changing call of the client is a
*plan* (:mod:`kfresearch.plans`): a generator that validates its arguments,
yields batches of :class:`~kfresearch.plans.Call`, receives the decoded bodies
(or, thrown into it, the error a call raised) and returns a typed result
(:mod:`kfresearch.orders.plans`). :class:`~kfresearch.Client` and
:class:`~kfresearch.AsyncClient` only drive the plans (their methods are
declared once, in :mod:`kfresearch.trading`), so the two share every decision.

The package exports the types (instructions, rules, results); the functions
live in its modules: :mod:`~kfresearch.orders.requests` (``check_send``,
``send_params``), :mod:`~kfresearch.orders.preview` (``preview``),
:mod:`~kfresearch.orders.statuses` (``explain``, ``EXPLANATIONS``),
:mod:`~kfresearch.orders.results` (``status_frame``).

Validation (before anything is sent)
------------------------------------
From the instrument's rules (``GET /instruments``, reference §4.1, §7.6):
price on the ``tickSize`` grid, size a positive multiple of the contract step
``10**-contractValueTradePrecision`` (which is also the minimum), resulting
position within ``maxPositionSize``, limit price within the exchange's price
collar around the mark (``statuses.PRICE_COLLAR``), and the prices each order
type needs (:mod:`kfresearch.contracts`, reference §4.12). Only what a check
needs is read: a market order is sent without any read once the client holds
the instruments (see :func:`~kfresearch.orders.plans.plan_validated_send`). Each error is a
:class:`~kfresearch.errors.ValidationError` naming the field, the value and
what would be valid::

    limit_price 88000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid: 88000 or 88001

Rejections
----------
The exchange answers a rejected order with ``result: success`` and a status
(reference §4.12–§4.18, §5.1). :func:`explain` turns every documented status
into plain words with what to do next (``statuses.EXPLANATIONS``); the result
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
>>> from kfresearch.orders.requests import check_send
>>> rules = InstrumentRules.from_instrument({"symbol": "PF_XBTUSD", "tickSize": 1,
...     "contractValueTradePrecision": 4, "maxPositionSize": 1000000, "tradeable": True})
>>> [str(e) for e in check_send(Send("PF_XBTUSD", "buy", 0.001, limit_price=88000.3), rules)]
['limit_price 88000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid: 88000 or 88001']
"""

from __future__ import annotations

from kfresearch.orders.preview import OrderContext, OrderPreview
from kfresearch.orders.requests import Cancel, Edit, Instruction, Send, Trailing
from kfresearch.orders.results import BatchResult, CancelAllResult, OrderResult, SwitchStatus
from kfresearch.orders.rules import InstrumentRules

__all__ = [
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
    "Trailing",
]
