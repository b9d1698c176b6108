"""Signature vectors of reference §2.6, byte for byte, and signing what is sent."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import httpx
import pytest

from kfresearch.auth import (
    KrakenAuth,
    rest_signature,
    signed_path,
    spot_signature,
    ws_challenge_signature,
)
from kfresearch.credentials import Credentials, Secret
from kfresearch.endpoints import ENDPOINTS, encode_params
from kfresearch.environments import resolve_environment
from kfresearch.ratelimit import RateLimiter
from kfresearch.transport import Core, RetryPolicy

OUR_SECRET = Secret(base64.b64encode(bytes(range(64))).decode())
NONCE = "1700000000000"
BATCH = {
    "batchOrder": [
        {
            "order": "send",
            "order_tag": "1",
            "orderType": "lmt",
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "size": 0.0001,
            "limitPrice": 30000.0,
        }
    ]
}


def test_k1_python_kraken_sdk_golden_vector() -> None:
    secret = Secret(base64.b64encode(b"python-kraken-sdk unit-test secret value").decode())
    assert secret.reveal() == "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="
    got = rest_signature(
        secret, "orderType=lmt&symbol=PI_XBTUSD", "1616492376594", "/derivatives/api/v3/sendorder"
    )
    assert (
        got
        == "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA=="
    )


def test_k2_kraken_websocket_challenge_vector() -> None:
    secret = Secret(
        "7zxMEF5p/Z8l2p2U7Ghv6x14Af+Fx+92tPgUdVQ748FOIrEoT9bgT+bTRfXc5pz8na+hL/QdrCVG7bh9KpT0eMTm"
    )
    got = ws_challenge_signature(secret, "c100b894-1729-464d-ace1-52dbce11db42")
    assert (
        got
        == "4JEpF3ix66GA2B+ooK128Ift4XQVtc137N9yeg4Kqsn9PI0Kpzbysl9M1IeCEdjg0zl00wkVqcsnG4bmnlMb3A=="
    )


@pytest.mark.parametrize(
    ("post_data", "nonce", "path", "expected"),
    [
        pytest.param(
            "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.0001&limitPrice=30000&cliOrdId=test-1",
            NONCE,
            "/derivatives/api/v3/sendorder",
            "hQDPQ1IoG38L8NszpiQaRnad0SNPWMnBazknb4mIjSq97CJQ37/ENBN+fG5unElcv+uh178XIC8vwXfBf4kkkA==",
            id="V1-sendorder",
        ),
        pytest.param(
            "",
            NONCE,
            "/derivatives/api/v3/openorders",
            "ZsxarRZYe1cJk7MK5GNnWajgo/VlItNJfyDMjfrX9KDybuaEu96f1bre0YnMwqBOCdCHQsiOonu8Cl0kIChc9g==",
            id="V2-get",
        ),
        pytest.param(
            "",
            "",
            "/derivatives/api/v3/openorders",
            "01NpmRljuNFOYCFDW+OXrtHSByZQJbicy27eoNrFl8w05mo30EzFYxJjL+yj7ul6RPZy5zHB0z3sIuPz2gycng==",
            id="V3-get-without-nonce",
        ),
        pytest.param(
            "since=1700000000000&sort=asc&count=10",
            NONCE,
            "/api/history/v3/account-log",
            "RFoVE8r7UlivEAgcSq5ZPHCUUuoZPfkDA7KHqGnO2QL51yg4rCec8zOtc0AprfJB7hxgusHdgH7pOChDOCg/rg==",
            id="V4-history",
        ),
        pytest.param(
            urlencode({"json": json.dumps(BATCH, separators=(",", ":"))}),
            NONCE,
            "/derivatives/api/v3/batchorder",
            "AbkmC6ue8WhcH7idbXsZzsx8297pN8DBewEoJPYX4fGYBEjRLnDUr7/R9TrsgE+H8iVEaXnE7KuXt66QAqNAXg==",
            id="V5-batch-encoded",
        ),
        pytest.param(
            "json=" + json.dumps(BATCH, separators=(",", ":")),
            NONCE,
            "/derivatives/api/v3/batchorder",
            "V7klDLc7DkfT7lCiPV2/2Bg5WWGJSi1c6BIZbMpFFJx8o6Ye1fJig4O6WPDaA1+wVjpchteDczHOX+s/Pa/4+w==",
            id="V5-legacy-decoded",
        ),
    ],
)
def test_our_vectors(post_data: str, nonce: str, path: str, expected: str) -> None:
    assert rest_signature(OUR_SECRET, post_data, nonce, path) == expected


def test_v6_signing_the_prefix_differs() -> None:
    post = "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.0001&limitPrice=30000&cliOrdId=test-1"
    right = rest_signature(OUR_SECRET, post, NONCE, "/derivatives/api/v3/sendorder")
    # signing the prefix by hand is what V6 does; rest_signature never does it
    wrong = rest_signature(OUR_SECRET, post, NONCE, "/derivatives/derivatives/api/v3/sendorder")
    assert (
        wrong
        == "rC9Oa1Ivq5xXJhS3JWYd3p9c6htaHknGYGA6o6yFuDDIWKOBkqFbif+m91EmGi0C57kLSJRoHvXdDa7GEXyZxA=="
    )
    assert wrong != right


def test_only_a_leading_derivatives_is_stripped() -> None:
    assert signed_path("/derivatives/api/v3/tickers") == "/api/v3/tickers"
    assert signed_path("/api/history/v3/account-log") == "/api/history/v3/account-log"
    assert signed_path("/api/charts/v1/derivatives") == "/api/charts/v1/derivatives"
    assert signed_path("/derivativesx/api") == "/derivativesx/api"


def _core(creds: Credentials) -> Core:
    return Core(
        resolve_environment("live"),
        creds,
        limiter=RateLimiter(),
        retry=RetryPolicy(),
        allow_trading=True,
    )


def test_the_bytes_signed_are_the_bytes_sent() -> None:
    creds = Credentials("key-1", OUR_SECRET)
    core = _core(creds)
    params = {
        "orderType": "lmt",
        "symbol": "PF_XBTUSD",
        "side": "buy",
        "size": 0.0001,
        "limitPrice": 30000,
        "cliOrdId": "test-1",
    }
    request = core.build_request(ENDPOINTS["sendorder"], params, None)
    flow = KrakenAuth(creds).auth_flow(request)
    signed = next(flow)
    assert signed.content.decode() == (
        "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.0001&limitPrice=30000&cliOrdId=test-1"
    )
    assert signed.url.path == "/derivatives/api/v3/sendorder"
    nonce = signed.headers["Nonce"]
    assert signed.headers["APIKey"] == "key-1"
    assert signed.headers["Authent"] == rest_signature(
        OUR_SECRET, signed.content.decode(), nonce, "/api/v3/sendorder"
    )


def test_get_query_is_signed_as_sent_with_spaces_encoded() -> None:
    creds = Credentials("key-1", OUR_SECRET)
    request = _core(creds).build_request(
        ENDPOINTS["account_log"],
        {"since": 1700000000000, "sort": "asc", "count": 10, "info": "futures trade"},
        None,
    )
    signed = next(KrakenAuth(creds, use_nonce=False).auth_flow(request))
    assert signed.url.query == b"since=1700000000000&sort=asc&count=10&info=futures%20trade"
    assert "Nonce" not in signed.headers
    assert signed.headers["Authent"] == rest_signature(
        OUR_SECRET, signed.url.query.decode(), "", "/api/history/v3/account-log"
    )


def test_encoder_rules() -> None:
    assert (
        encode_params({"a": True, "b": False, "c": None, "d": 1e-05}) == "a=true&b=false&d=0.00001"
    )
    assert encode_params({"orderIds": ["x", "y"]}) == "orderIds=x&orderIds=y"
    assert encode_params({"json": '{"a":1}'}) == "json=%7B%22a%22%3A1%7D"
    assert encode_params({}) == ""


def test_signature_checked_by_an_exchange_style_verifier() -> None:
    """A request signed by the auth flow verifies with the documented algorithm on the other side."""
    creds = Credentials("key-1", OUR_SECRET)
    seen: list[bool] = []

    def verifier(request: httpx.Request) -> httpx.Response:
        post = request.url.query.decode() + request.content.decode()
        expected = rest_signature(
            OUR_SECRET, post, request.headers.get("Nonce", ""), request.url.path
        )
        seen.append(request.headers["Authent"] == expected)
        return httpx.Response(200, json={"result": "success"})

    with httpx.Client(transport=httpx.MockTransport(verifier)) as http:
        core = _core(creds)
        http.send(core.build_request(ENDPOINTS["openorders"], None, None), auth=core.auth)
        http.send(
            core.build_request(ENDPOINTS["sendorder"], {"size": 1, "symbol": "PI_XBTUSD"}, None),
            auth=core.auth,
        )
    assert seen == [True, True]


def test_spot_signature_reproduces_krakens_documented_example() -> None:
    """unified-ws reference §1.3: Kraken's Spot signing example, byte for byte."""
    secret = Secret(
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    )
    data = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    got = spot_signature(secret, "/0/private/AddOrder", "1616492376594", data)
    assert (
        got
        == "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


def test_spot_signature_differs_from_the_futures_scheme() -> None:
    # same inputs, different recipe (nonce first, path outside the SHA-256)
    spot = spot_signature(OUR_SECRET, "/0/private/GetWebSocketsToken", NONCE, f"nonce={NONCE}")
    futures = rest_signature(OUR_SECRET, f"nonce={NONCE}", NONCE, "/0/private/GetWebSocketsToken")
    assert spot != futures


def test_auth_docstring_examples_run() -> None:
    import doctest

    import kfresearch.auth

    result = doctest.testmod(kfresearch.auth)
    assert result.attempted > 0
    assert result.failed == 0
