"""The one Spot REST call the Unified WebSocket needs: ``POST /0/private/GetWebSocketsToken``.

Reference kraken-unified-ws.md §1.3. The request is signed the Spot way
(:func:`kfresearch.auth.spot_signature`): headers ``API-Key`` and ``API-Sign``,
a form body (or a JSON one, with ``Content-Type: application/json``) holding a
``nonce`` that strictly increases per key. Checks, in this order, each
answering HTTP 200 with the Spot error body ``{"error": ["…"]}``:

==============================  ===============================================
error                           when
==============================  ===============================================
``EGeneral:Unknown method``     any other ``/0/`` path, or not a POST
``EAPI:Invalid key``            no ``API-Key``, or not a provisioned Kraken
                                key (a derivatives key is not one)
``EGeneral:Invalid arguments``  the body does not parse
``EAPI:Invalid signature``      ``API-Sign`` is missing or wrong
``EAPI:Invalid nonce``          no nonce, not an integer, or not above the
                                key's last one
==============================  ===============================================

Success: ``{"error": [], "result": {"token": "…", "expires": 900}}``.
"""

from __future__ import annotations

import hmac
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson

from kfresearch.auth import spot_signature
from kfresearch.sim.keys import SimKey
from kfresearch.sim.uws.tokens import Token

__all__ = ["TOKEN_PATH", "TokenDesk", "handle_spot_rest"]

TOKEN_PATH = "/0/private/GetWebSocketsToken"  # noqa: S105 - a path, not a secret


class TokenDesk(Protocol):
    """What the endpoint needs of the exchange's UWS side (``UwsService``)."""

    spot_keys: dict[str, SimKey]  # by API key

    def take_nonce(self, key: SimKey, nonce: int) -> bool: ...

    def issue_token(self, key: SimKey) -> Token: ...


class _SpotError(Exception):
    pass


def handle_spot_rest(
    desk: TokenDesk, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes]:
    """Answer one raw request to a ``/0/`` path (headers with lower-case names): the HTTP
    status (always 200, as Kraken's Spot REST API) and the JSON body."""
    try:
        result = _token(desk, method, path, headers, body)
    except _SpotError as error:
        return 200, orjson.dumps({"error": [str(error)]})
    return 200, orjson.dumps({"error": [], "result": result})


def _token(
    service: TokenDesk, method: str, path: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    if method != "POST" or path != TOKEN_PATH:
        raise _SpotError("EGeneral:Unknown method")
    key = service.spot_keys.get(headers.get("api-key", ""))
    if key is None:
        raise _SpotError("EAPI:Invalid key")
    text = body.decode("utf-8", "replace")
    nonce = _nonce(text, headers.get("content-type", ""))
    expected = spot_signature(key.credentials.secret, path, nonce or "", text)
    if not hmac.compare_digest(headers.get("api-sign", ""), expected):
        raise _SpotError("EAPI:Invalid signature")
    if nonce is None or not nonce.isdigit() or not service.take_nonce(key, int(nonce)):
        raise _SpotError("EAPI:Invalid nonce")
    token = service.issue_token(key)
    return {"token": token.value, "expires": 900}


def _nonce(text: str, content_type: str) -> str | None:
    """The body's nonce as sent (None when absent)."""
    if "json" in content_type:
        try:
            data = orjson.loads(text or "{}")
        except orjson.JSONDecodeError:
            raise _SpotError("EGeneral:Invalid arguments") from None
        if not isinstance(data, dict):
            raise _SpotError("EGeneral:Invalid arguments")
        value = data.get("nonce")
        return None if value is None else str(value)
    values = parse_qs(text, keep_blank_values=True).get("nonce")
    return values[-1] if values else None
