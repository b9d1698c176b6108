"""The Unified WebSocket envelope: requests, acknowledgements, errors (reference §1.4, §6).

A request is ``{"method", "params", "req_id"}``. Every answer carries
``method``, ``req_id`` (echoed when it was a JSON integer: a string does not
correlate, §6), ``success``, ``time_in`` and ``time_out`` (RFC 3339), and
either ``result`` (an object; an array for ``batch_add``) or ``error``, **one
string**. A request's fields are checked against what the method accepts:
anything else is refused as ``Unsupported field: '<name>'`` (§6).

The error strings the simulator answers are :data:`ERRORS`; the reference
quotes some (``EAPI:Invalid token``, ``EOrder:Invalid order``, ``Unsupported
field``, ``Already subscribed to margin channel``); the others are the
simulator's, in Kraken's ``ECategory:Text`` style, and say what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ERRORS",
    "Request",
    "UwsError",
    "answer",
    "check_fields",
    "parse_request",
]

#: What each refusal says. ``{}`` is filled with a field, channel or method name.
ERRORS = {
    "malformed": "EGeneral:Invalid arguments:the message is not a JSON object with a method",
    "method": "Method not found",
    "unsupported": "Unsupported field: '{}'",
    "missing": "EGeneral:Invalid arguments:{} is required",
    "invalid": "EGeneral:Invalid arguments:{}",
    "channel": "EGeneral:Invalid arguments:channel {} is not served",
    "spot": "EGeneral:Invalid arguments:asset_class {} is not served on the Unified WebSocket "
    "yet; send asset_class derivatives",
    "symbol": "Currency pair not supported",
    "subscribed": "Already subscribed",
    "subscribed_once": "Already subscribed to {} channel",
    "not_subscribed": "Subscription Not Found",
    "public_endpoint": "EGeneral:Permission denied:{} needs the private endpoint /v2/private "
    "and a token",
    "token": "EAPI:Invalid token",
    "permission": "EGeneral:Permission denied",
    "unknown_order": "EOrder:Invalid order",
}


class UwsError(Exception):
    """A refused request: ``text`` is the answer's ``error``; ``extra`` goes on the answer
    too (the symbol a subscription refused)."""

    def __init__(self, text: str, **extra: Any) -> None:
        super().__init__(text)
        self.text = text
        self.extra = extra

    @classmethod
    def of(cls, name: str, *args: object, **extra: Any) -> UwsError:
        """The error :data:`ERRORS` names ``name``, filled with ``args``."""
        return cls(ERRORS[name].format(*args), **extra)


@dataclass(frozen=True)
class Request:
    """One decoded request."""

    method: str
    params: dict[str, Any]
    req_id: int | None


def parse_request(message: object) -> Request:
    """The request in a decoded frame.

    Raises
    ------
    UwsError
        The frame is not an object with a string ``method`` and object ``params``.
    """
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        raise UwsError.of("malformed")
    params = message.get("params", {})
    if not isinstance(params, dict):
        raise UwsError.of("invalid", "params must be an object")
    req_id = message.get("req_id")
    if isinstance(req_id, bool) or not isinstance(req_id, int):
        req_id = None
    return Request(message["method"], params, req_id)


def check_fields(params: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse the first field not in ``allowed`` (in the order sent)."""
    known = set(allowed)
    for name in params:
        if name not in known:
            raise UwsError.of("unsupported", name)


def answer(
    method: str,
    req_id: int | None,
    time_in: str,
    time_out: str,
    *,
    result: Any = None,
    error: UwsError | None = None,
) -> dict[str, Any]:
    """An acknowledgement (``result``), a refusal (``error``), or both (a ``batch_add``
    some of whose rows failed: ``success`` false with the rows in ``result``)."""
    body: dict[str, Any] = {"method": method}
    if req_id is not None:
        body["req_id"] = req_id
    if error is None or result is not None:
        body["result"] = result if result is not None else {}
    body["success"] = error is None
    if error is not None:
        body["error"] = error.text
        body |= error.extra
    body["time_in"] = time_in
    body["time_out"] = time_out
    return body
