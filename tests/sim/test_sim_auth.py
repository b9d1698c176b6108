"""The simulator's rules bite as the exchange's do: signatures, nonces, permissions."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from kfresearch.auth import rest_signature
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.transport import SimTransport

BASE = "http://sim.test"


@pytest.fixture(scope="module")
def exchange() -> SimExchange:
    return SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"))


def _send(
    exchange: SimExchange,
    method: str,
    path: str,
    post_data: str = "",
    *,
    nonce: str | None = None,
    sign_data: str | None = None,
    sign_path: str | None = None,
    secret: Any = None,
    key_name: str = "full",
) -> httpx.Response:
    creds = exchange.credentials(key_name)
    signature = rest_signature(
        secret or creds.secret,
        post_data if sign_data is None else sign_data,
        nonce or "",
        path if sign_path is None else sign_path,
    )
    headers = {"APIKey": creds.key, "Authent": signature}
    if nonce is not None:
        headers["Nonce"] = nonce
    with httpx.Client(transport=SimTransport(exchange)) as http:
        if method == "GET":
            url = f"{BASE}{path}?{post_data}" if post_data else f"{BASE}{path}"
            return http.get(url, headers=headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return http.post(f"{BASE}{path}", content=post_data.encode(), headers=headers)


def _error(response: httpx.Response) -> str | None:
    body = response.json()
    return body.get("error") if body.get("result") == "error" else None


ACCOUNTS = "/derivatives/api/v3/accounts"


def test_correct_signature_with_and_without_nonce(exchange: SimExchange) -> None:
    assert _error(_send(exchange, "GET", ACCOUNTS, nonce="1000")) is None
    assert _error(_send(exchange, "GET", ACCOUNTS)) is None


def test_wrong_secret_is_rejected(exchange: SimExchange) -> None:
    from kfresearch.credentials import Secret

    wrong = Secret(base64.b64encode(b"w" * 64).decode())
    assert _error(_send(exchange, "GET", ACCOUNTS, secret=wrong)) == "authenticationError"


def test_reused_and_too_low_nonces_are_rejected(exchange: SimExchange) -> None:
    assert _error(_send(exchange, "GET", ACCOUNTS, nonce="5000000")) is None
    assert _error(_send(exchange, "GET", ACCOUNTS, nonce="5000000")) == "nonceDuplicate"
    for n in range(5000001, 5000101):  # fill the window of recent nonces
        assert _error(_send(exchange, "GET", ACCOUNTS, nonce=str(n))) is None
    assert _error(_send(exchange, "GET", ACCOUNTS, nonce="4999999")) == "nonceBelowThreshold"
    # slightly out of order inside the window is tolerated, as on the exchange
    assert _error(_send(exchange, "GET", ACCOUNTS, nonce="5000200")) is None
    assert _error(_send(exchange, "GET", ACCOUNTS, nonce="5000150")) is None


def test_tampered_body_is_rejected(exchange: SimExchange) -> None:
    signed = "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.0001&limitPrice=50000"
    sent = signed.replace("0.0001", "1")
    response = _send(exchange, "POST", "/derivatives/api/v3/sendorder", sent, sign_data=signed)
    assert _error(response) == "authenticationError"


def test_path_signed_with_the_derivatives_prefix_is_rejected(exchange: SimExchange) -> None:
    # rest_signature strips one /derivatives; doubling it signs "/derivatives/api/v3/accounts"
    response = _send(exchange, "GET", ACCOUNTS, sign_path="/derivatives" + ACCOUNTS)
    assert _error(response) == "authenticationError"


def test_history_rejects_with_401_and_its_own_body(exchange: SimExchange) -> None:
    response = _send(
        exchange, "GET", "/api/history/v3/account-log", sign_path="/api/v3/account-log"
    )
    assert response.status_code == 401
    assert response.json() == {
        "reason": "You are not authorized to access this endpoint.",
        "status": "unauthorized",
    }


def test_read_only_key_cannot_trade(exchange: SimExchange) -> None:
    data = "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.0001&limitPrice=50000"
    assert _error(_send(exchange, "GET", ACCOUNTS, key_name="read_only")) is None
    response = _send(exchange, "POST", "/derivatives/api/v3/sendorder", data, key_name="read_only")
    assert _error(response) == "authenticationError"


def _batch_bodies() -> tuple[str, str]:
    text = json.dumps(
        {"batchOrder": [{"order": "cancel", "order_id": "none"}]}, separators=(",", ":")
    )
    return f"json={quote(text, safe='')}", f"json={text}"


def test_legacy_decoded_postdata_is_accepted_unless_strict() -> None:
    encoded, decoded = _batch_bodies()
    lenient = SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    strict = SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"), strict_auth=True)
    path = "/derivatives/api/v3/batchorder"
    assert _error(_send(lenient, "POST", path, encoded, sign_data=decoded)) is None
    assert _error(_send(strict, "POST", path, encoded, sign_data=decoded)) == "authenticationError"
    assert _error(_send(strict, "POST", path, encoded)) is None


def test_public_endpoints_need_no_signature(exchange: SimExchange) -> None:
    with httpx.Client(transport=SimTransport(exchange)) as http:
        assert http.get(f"{BASE}/derivatives/api/v3/tickers").json()["result"] == "success"
        assert http.get(f"{BASE}/derivatives/api/v3/nothing").status_code == 404
