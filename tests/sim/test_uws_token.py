"""The simulator's ``POST /0/private/GetWebSocketsToken`` (unified-ws reference §1.3, §6)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from uws_helpers import TOKEN_PATH, get_token, signed_token_request

from kfresearch.credentials import Credentials, Secret
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.keys import SIM_ACCOUNT_ID, provisioned_keys, provisioned_spot_keys
from kfresearch.sim.uws.tokens import TOKEN_LIFETIME_S


@pytest.fixture
def exchange() -> SimExchange:
    return SimExchange(seed=1)


def _post(exchange: SimExchange, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    response = exchange.handle("POST", TOKEN_PATH, headers, body)
    assert response.status == 200  # Spot REST errors are HTTP 200 with an error list
    answer: dict[str, Any] = orjson.loads(response.body)
    return answer


def test_token_for_a_signed_request(exchange: SimExchange) -> None:
    key = exchange.uws.spot_credentials("full")
    answer = _post(exchange, *signed_token_request(key, 1_000))
    assert answer["error"] == []
    assert answer["result"]["expires"] == TOKEN_LIFETIME_S == 900
    token = answer["result"]["token"]
    assert isinstance(token, str)
    assert len(token) >= 40
    issued = exchange.uws.tokens.check(token, exchange.clock.now_ms(), set())
    assert issued is not None
    assert issued.key.account_id == SIM_ACCOUNT_ID


def test_spot_keys_differ_from_derivatives_keys_but_share_the_account() -> None:
    spot, derivatives = provisioned_spot_keys(), provisioned_keys()
    assert {k.credentials.key for k in spot.values()}.isdisjoint(
        k.credentials.key for k in derivatives.values()
    )
    assert {k.account_id for k in spot.values()} == {SIM_ACCOUNT_ID}
    assert (spot["full"].can_trade, spot["read_only"].can_trade) == (True, False)
    assert SimExchange(seed=1).uws.spot_credentials("read_only") == spot["read_only"].credentials
    with pytest.raises(KeyError, match="'full' or 'read_only'"):
        SimExchange(seed=1).uws.spot_credentials("admin")


def test_json_body_is_accepted(exchange: SimExchange) -> None:
    from kfresearch.auth import spot_signature

    key = exchange.uws.spot_credentials("full")
    body = b'{"nonce": 7}'
    headers = {
        "API-Key": key.key,
        "API-Sign": spot_signature(key.secret, TOKEN_PATH, "7", body.decode()),
        "Content-Type": "application/json",
    }
    assert _post(exchange, headers, body)["error"] == []


def _bad_signature(exchange: SimExchange) -> tuple[dict[str, str], bytes]:
    key = exchange.uws.spot_credentials("full")
    headers, body = signed_token_request(key, 5)
    return headers, body.replace(b"5", b"6")  # signed nonce 5, sends nonce 6


def _derivatives_key(exchange: SimExchange) -> tuple[dict[str, str], bytes]:
    return signed_token_request(provisioned_keys()["full"].credentials, 5)


def _stranger(exchange: SimExchange) -> tuple[dict[str, str], bytes]:
    stranger = Credentials("AAAA", Secret("c2VjcmV0c2VjcmV0c2VjcmV0"))
    return signed_token_request(stranger, 5)


def _no_nonce(exchange: SimExchange) -> tuple[dict[str, str], bytes]:
    from kfresearch.auth import spot_signature

    key = exchange.uws.spot_credentials("full")
    return {"API-Key": key.key, "API-Sign": spot_signature(key.secret, TOKEN_PATH, "", "")}, b""


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (_derivatives_key, "EAPI:Invalid key"),
        (_stranger, "EAPI:Invalid key"),
        (_bad_signature, "EAPI:Invalid signature"),
        (_no_nonce, "EAPI:Invalid nonce"),
    ],
)
def test_refusals_say_why(exchange: SimExchange, make: Any, error: str) -> None:
    answer = _post(exchange, *make(exchange))
    assert answer == {"error": [error]}


def test_nonce_must_increase_per_key(exchange: SimExchange) -> None:
    full = exchange.uws.spot_credentials("full")
    read_only = exchange.uws.spot_credentials("read_only")
    assert _post(exchange, *signed_token_request(full, 10))["error"] == []
    assert _post(exchange, *signed_token_request(full, 10)) == {"error": ["EAPI:Invalid nonce"]}
    assert _post(exchange, *signed_token_request(full, 9)) == {"error": ["EAPI:Invalid nonce"]}
    assert _post(exchange, *signed_token_request(read_only, 3))["error"] == []  # own nonces
    assert _post(exchange, *signed_token_request(full, 11))["error"] == []


def test_other_spot_paths_are_unknown(exchange: SimExchange) -> None:
    headers, body = signed_token_request(exchange.uws.spot_credentials("full"), 1)
    response = exchange.handle("POST", "/0/private/AddOrder", headers, body)
    assert orjson.loads(response.body) == {"error": ["EGeneral:Unknown method"]}
    response = exchange.handle("GET", TOKEN_PATH, headers, b"")
    assert orjson.loads(response.body) == {"error": ["EGeneral:Unknown method"]}


def test_token_expires_after_900_s_unless_in_use(exchange: SimExchange) -> None:
    token = get_token(exchange)
    now = exchange.clock.now_ms()
    book = exchange.uws.tokens
    assert book.check(token, now + 899_999, set()) is not None
    assert book.check(token, now + 900_000, set()) is None
    assert book.check(token, now + 900_000, {token}) is not None  # kept by its connection
    assert book.check("not-a-token", now, set()) is None
