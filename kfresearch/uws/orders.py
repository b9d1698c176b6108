"""The order API on UWS: v3 order parameters as UWS method parameters, and UWS answers
as the v3 statuses :mod:`kfresearch.orders` explains.

The order plans build v3 parameters (``orderType``, ``size``, ``limitPrice``,
``cliOrdId`` …) after validating them; the UWS adapter sends them as
``add_order`` / ``amend_order`` / ``cancel_order`` parameters (reference
kraken-unified-ws.md §1.7, §1.8, §6) built here, and turns the answers back
into ``sendStatus`` / ``editStatus`` / ``cancelStatus`` objects.

Order types (v3 → UWS): ``lmt`` → ``limit`` (``gtc``), ``post`` → ``limit``
with ``post_only``, ``ioc``/``fok`` → ``limit`` with that ``time_in_force``,
``mkt`` → ``market``, ``stp`` → ``stop-loss`` (``stop-loss-limit`` with a
limit price), ``take_profit`` → ``take-profit`` (``-limit``),
``trailing_stop`` → ``trailing-stop`` with ``triggers.price_type`` ``pct`` or
``quote``. The trigger's ``reference`` is the v3 ``triggerSignal``
(``mark`` is a guess: the UWS pages list only ``index`` and ``last``).

Client order ids must be a UUID, 32 hex digits, or at most 18 of
``[A-Za-z0-9_-]`` (§6): :func:`check_client_order_id`.

Example
-------
>>> add_order_params({"orderType": "post", "symbol": "PF_XBTUSD", "side": "buy",
...                   "size": 0.1, "limitPrice": 97000.0, "cliOrdId": "my-0001"})
{'order_type': 'limit', 'side': 'buy', 'order_qty': 0.1, 'symbol': 'PF_XBTUSD', 'limit_price': 97000.0, 'post_only': True, 'cl_ord_id': 'my-0001'}
>>> rejection_status("add_order", "EOrder:postWouldExecute")
'postWouldExecute'
"""  # noqa: E501

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kfresearch.errors import ValidationError
from kfresearch.uws.wire import rfc3339, time_ms

__all__ = [
    "add_order_params",
    "amend_order_params",
    "cancel_params",
    "check_client_order_id",
    "client_order_id_problem",
    "rejection_status",
    "uuid_client_order_id",
]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_FREE = re.compile(r"^[A-Za-z0-9_-]{1,18}$")

_LIMITS = {"lmt": ("gtc", False), "post": ("gtc", True), "ioc": ("ioc", False),
           "fok": ("fok", False)}
_TRIGGERED = {"stp": "stop-loss", "take_profit": "take-profit"}


def client_order_id_problem(value: str) -> str | None:
    """Why ``value`` is not a UWS client order id, or None when it is one.

    >>> client_order_id_problem("my-0001") is None, client_order_id_problem("kfr-" + "a" * 32)
    (True, "'kfr-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a UWS client order id: use a UUID \
(36 characters), 32 hex digits, or at most 18 of letters, digits, '_' and '-'")
    """
    if _UUID.match(value) or _HEX32.match(value) or _FREE.match(value):
        return None
    return (
        f"{value!r} is not a UWS client order id: use a UUID (36 characters), 32 hex digits, "
        "or at most 18 of letters, digits, '_' and '-'"
    )


def check_client_order_id(value: Any, field: str = "client_order_id") -> str:
    """``value`` when it is a UWS client order id, else :class:`ValidationError` (nothing sent)."""
    problem = client_order_id_problem(str(value)) if isinstance(value, str) else (
        f"{field} must be text"
    )
    if problem is not None:
        raise ValidationError(field, value, problem)
    return str(value)


def uuid_client_order_id(bits: int) -> str:
    """A client order id in UUID form from 128 random bits (valid on both protocols).

    >>> uuid_client_order_id(0x1234)
    '00000000-0000-0000-0000-000000001234'
    """
    text = f"{bits & ((1 << 128) - 1):032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _signal(value: Any) -> str:
    signal = str(value or "last").lower().removesuffix("_price")
    if signal not in ("last", "index"):
        raise ValidationError(
            "trigger_signal",
            value,
            f"trigger_signal {value!r} is not available on the Unified WebSocket: its triggers "
            "watch 'last' (the default) or 'index' (reference §1.7); use one of those, or "
            "protocol='v3' for a mark-price trigger",
        )
    return signal


def add_order_params(v3: Mapping[str, Any]) -> dict[str, Any]:
    """``add_order`` parameters (without ``asset_class``/``token``) for ``sendorder`` ones.

    Raises
    ------
    ValidationError
        A client order id the UWS does not accept, or an order type it has no name for.
    """
    kind = str(v3.get("orderType") or "lmt")
    out: dict[str, Any] = {}
    if kind in _LIMITS:
        tif, post = _LIMITS[kind]
        out["order_type"] = "limit"
    elif kind == "mkt":
        out["order_type"] = "market"
    elif kind in _TRIGGERED:
        out["order_type"] = _TRIGGERED[kind] + ("-limit" if v3.get("limitPrice") is not None
                                                 else "")
    elif kind == "trailing_stop":
        out["order_type"] = "trailing-stop"
    else:
        raise ValidationError("order_type", kind, f"order type {kind!r} has no UWS equivalent")
    out |= {"side": v3.get("side"), "order_qty": v3.get("size"), "symbol": v3.get("symbol")}
    if v3.get("limitPrice") is not None:
        out["limit_price"] = v3["limitPrice"]
    if kind in _LIMITS:
        if tif != "gtc":
            out["time_in_force"] = tif
        if post:
            out["post_only"] = True
    if kind in _TRIGGERED:
        out["triggers"] = {"reference": _signal(v3.get("triggerSignal")),
                           "price": v3.get("stopPrice"), "price_type": "static"}
    if kind == "trailing_stop":
        unit = str(v3.get("trailingStopDeviationUnit") or "PERCENT").upper()
        out["triggers"] = {"reference": _signal(v3.get("triggerSignal")),
                           "price": v3.get("trailingStopMaxDeviation"),
                           "price_type": "pct" if unit == "PERCENT" else "quote"}
    if v3.get("reduceOnly"):
        out["reduce_only"] = True
    if v3.get("cliOrdId") is not None:
        out["cl_ord_id"] = check_client_order_id(v3["cliOrdId"])
    if v3.get("processBefore"):
        deadline = time_ms(v3["processBefore"])
        if deadline is not None:
            out["deadline"] = rfc3339(deadline)
    return out


def amend_order_params(v3: Mapping[str, Any], filled: float | None = None) -> dict[str, Any]:
    """``amend_order`` parameters for ``editorder`` ones.

    ``order_qty`` on UWS is the order's whole quantity; v3's default
    (``qtyMode`` relative) gives the new *open* size, so ``filled`` (the
    order's filled size, when known) is added to it.
    """
    out: dict[str, Any] = {}
    order_id = v3.get("orderId") or v3.get("order_id")
    if order_id:
        out["order_id"] = order_id
    elif v3.get("cliOrdId"):
        out["cl_ord_id"] = v3["cliOrdId"]
    if v3.get("size") is not None:
        size = float(v3["size"])
        relative = str(v3.get("qtyMode") or "RELATIVE").upper() == "RELATIVE"
        out["order_qty"] = round(size + (filled or 0.0), 12) if relative else size
    if v3.get("limitPrice") is not None:
        out["limit_price"] = v3["limitPrice"]
    if v3.get("stopPrice") is not None:
        out["trigger_price"] = v3["stopPrice"]
    if v3.get("trailingStopMaxDeviation") is not None:
        unit = str(v3.get("trailingStopDeviationUnit") or "PERCENT").upper()
        out["trigger_price"] = v3["trailingStopMaxDeviation"]
        out["trigger_price_type"] = "pct" if unit == "PERCENT" else "quote"
    return out


def cancel_params(v3: Mapping[str, Any]) -> dict[str, Any]:
    """``cancel_order`` parameters (arrays, §6) for ``cancelorder`` ones."""
    order_id = v3.get("order_id") or v3.get("orderId")
    if order_id:
        return {"order_id": [order_id]}
    return {"cl_ord_id": [v3.get("cliOrdId")]}


#: UWS texts for an order the exchange does not have open (§6), by method
_GONE = {"add_order": "notFound", "amend_order": "orderForEditNotFound",
         "cancel_order": "notFound", "batch_cancel": "notFound"}


def rejection_status(method: str, error: str) -> str:
    """The v3 status of a UWS rejection text.

    The simulator answers an order rejection as ``EOrder:<v3 status>``
    (``EOrder:postWouldExecute``), a guess shared with it where the reference
    lists no derivatives texts; an unknown or closed order is ``EOrder:Invalid
    order`` (§6). Any other text is kept whole as the status.
    """
    text = error.strip()
    if text in ("EOrder:Invalid order", "EOrder:Unknown order"):
        return _GONE.get(method, "notFound")
    if text.startswith("EOrder:"):
        status = text.removeprefix("EOrder:").strip()
        if re.fullmatch(r"[a-z][A-Za-z]*", status):
            return status
    return text
