"""The Unified WebSocket envelope (reference kraken-unified-ws.md §1.4, §6): requests out,
answers and pushes in, decoded once.

Requests are ``{"method", "params", "req_id"}`` with an integer ``req_id``;
answers echo ``method`` and ``req_id`` with ``success``, ``result`` and one
``error`` string; pushes are ``{"channel", "type", "data"}``. :func:`decode`
turns one incoming text into an :class:`Answer`, a :class:`Push` or an
:class:`Unknown`, and never raises.

Numbers keep their digits where it matters: the book's prices and
quantities must be checksummed from the exact wire text (§6), so a ``book``
message is decoded with every JSON number kept as its text (``"97000.50"``,
``"5.1e-05"``); other channels decode numbers as floats and ints.

Example
-------
>>> decode('{"channel":"book","type":"update","data":[{"symbol":"PF_XBTUSD",'
...        '"bids":[{"price":97000.50,"qty":0}],"asks":[],"checksum":12}]}').data[0]["bids"]
[{'price': '97000.50', 'qty': '0'}]
>>> decode('{"method":"pong","req_id":7,"time_in":"x","time_out":"y"}').req_id
7
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "Answer",
    "Incoming",
    "Push",
    "Unknown",
    "decode",
    "encode_request",
    "rfc3339",
    "time_ms",
]


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a request (``req_id`` correlates it; ``error`` is the exchange's text)."""

    method: str
    req_id: int | None
    success: bool
    result: Any = None
    error: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Push:
    """A channel message: ``type`` is ``snapshot``, ``update`` or a channel's own
    (``multi_collateral`` …); ``data`` as sent (a list, or an object)."""

    channel: str
    type: str
    data: Any
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Unknown:
    """Text that is not one of the envelope's shapes."""

    raw: Any


Incoming = Answer | Push | Unknown


def encode_request(method: str, params: Mapping[str, Any] | None, req_id: int) -> str:
    """The text of one request.

    >>> encode_request("ping", None, 3)
    '{"method":"ping","req_id":3}'
    """
    message: dict[str, Any] = {"method": method}
    if params:
        message["params"] = dict(params)
    message["req_id"] = req_id
    return orjson.dumps(message).decode()


def _exact(text: str | bytes) -> Any:
    # numbers as their wire text: the book checksum is computed from it (§6)
    return json.loads(text, parse_float=str, parse_int=str)


def decode(text: str | bytes) -> Incoming:
    """One incoming message; book messages keep their numbers' text (see the module)."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Unknown(text)
    if not isinstance(message, dict):
        return Unknown(message)
    channel = message.get("channel")
    if isinstance(channel, str):
        if channel == "book":
            message = _exact(text)
        return Push(channel, str(message.get("type") or ""), message.get("data"), message)
    method = message.get("method")
    if isinstance(method, str):
        req_id = message.get("req_id")
        success = message.get("success")
        # pong carries no ``success``; any other answer without a true bool failed (§6)
        ok = success is True or (method == "pong" and success is None and "error" not in message)
        error = message.get("error")
        return Answer(
            method,
            req_id if isinstance(req_id, int) and not isinstance(req_id, bool) else None,
            ok,
            message.get("result"),
            None if error is None else str(error),
            message,
        )
    return Unknown(message)


def time_ms(value: Any) -> int | None:
    """An RFC 3339 time (``2026-11-20T10:00:01.123456Z``) as epoch ms; None when absent.

    >>> time_ms("2026-11-20T10:00:01.123456Z")
    1795687201123
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).replace("Z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return round(stamp.timestamp() * 1000)


def rfc3339(ms: int) -> str:
    """Epoch ms as the REST bodies' ISO time (``2026-11-20T10:00:01.123Z``).

    >>> rfc3339(1795687201123)
    '2026-11-20T10:00:01.123Z'
    """
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
