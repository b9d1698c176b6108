"""kfresearch.auth.explain: the reference's vectors step by step (§2.6), and what the
exchange says to each wrong variant, checked against the simulator."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from kfresearch.auth import VARIANTS, explain, identify
from kfresearch.credentials import Secret
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.transport import SimTransport

OUR_SECRET = base64.b64encode(bytes(range(64))).decode()
V1_POST = "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.0001&limitPrice=30000&cliOrdId=test-1"
BATCH = (
    "json=%7B%22batchOrder%22%3A%5B%7B%22order%22%3A%22send%22%2C%22order_tag%22%3A%221%22%2C"
    "%22orderType%22%3A%22lmt%22%2C%22symbol%22%3A%22PF_XBTUSD%22%2C%22side%22%3A%22buy%22%2C"
    "%22size%22%3A0.0001%2C%22limitPrice%22%3A30000.0%7D%5D%7D"
)


@pytest.mark.parametrize(
    ("path", "nonce", "post_data", "secret", "authent"),
    [
        pytest.param(
            "/derivatives/api/v3/sendorder", "1616492376594", "orderType=lmt&symbol=PI_XBTUSD",
            "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ==",
            "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA==",
            id="K1",
        ),
        pytest.param(
            "/derivatives/api/v3/sendorder", "1700000000000", V1_POST, OUR_SECRET,
            "hQDPQ1IoG38L8NszpiQaRnad0SNPWMnBazknb4mIjSq97CJQ37/ENBN+fG5unElcv+uh178XIC8vwXfBf4kkkA==",
            id="V1",
        ),
        pytest.param(
            "/derivatives/api/v3/openorders", "1700000000000", "", OUR_SECRET,
            "ZsxarRZYe1cJk7MK5GNnWajgo/VlItNJfyDMjfrX9KDybuaEu96f1bre0YnMwqBOCdCHQsiOonu8Cl0kIChc9g==",
            id="V2",
        ),
        pytest.param(
            "/derivatives/api/v3/openorders", "", "", OUR_SECRET,
            "01NpmRljuNFOYCFDW+OXrtHSByZQJbicy27eoNrFl8w05mo30EzFYxJjL+yj7ul6RPZy5zHB0z3sIuPz2gycng==",
            id="V3",
        ),
        pytest.param(
            "/api/history/v3/account-log", "1700000000000", "since=1700000000000&sort=asc&count=10",
            OUR_SECRET,
            "RFoVE8r7UlivEAgcSq5ZPHCUUuoZPfkDA7KHqGnO2QL51yg4rCec8zOtc0AprfJB7hxgusHdgH7pOChDOCg/rg==",
            id="V4",
        ),
        pytest.param(
            "/derivatives/api/v3/batchorder", "1700000000000", BATCH, OUR_SECRET,
            "AbkmC6ue8WhcH7idbXsZzsx8297pN8DBewEoJPYX4fGYBEjRLnDUr7/R9TrsgE+H8iVEaXnE7KuXt66QAqNAXg==",
            id="V5",
        ),
    ],
)
def test_explain_reproduces_the_reference_vectors(
    path: str, nonce: str, post_data: str, secret: str, authent: str
) -> None:
    steps = explain(path, nonce, post_data, secret)
    assert steps.authent == authent
    assert steps.steps.loc["6 Authent = base64(HMAC)", "value"] == authent
    assert steps.steps.loc["1 endpointPath", "value"] == path.removeprefix("/derivatives")
    assert steps.steps.loc["2 message", "value"] == post_data + nonce + path.removeprefix(
        "/derivatives")
    assert len(bytes.fromhex(steps.steps.loc["3 SHA-256(message)", "value"])) == 32
    assert len(bytes.fromhex(steps.steps.loc["5 HMAC-SHA512(key, digest)", "value"])) == 64
    assert base64.b64decode(authent) == bytes.fromhex(
        steps.steps.loc["5 HMAC-SHA512(key, digest)", "value"])


def test_explain_gives_v1s_intermediate_digest_and_v6_and_v5_legacy() -> None:
    steps = explain("/derivatives/api/v3/sendorder", "1700000000000", V1_POST, OUR_SECRET)
    assert steps.steps.loc["3 SHA-256(message)", "value"] == (
        "28f6e9b28a218c7a88445758bf27272a3922993027e465a58ab3f14eb14cb2d2")
    assert steps.steps.loc["4 key = base64decode(secret)", "value"] == "64 bytes"
    assert steps.variants.loc["/derivatives signed", "value"] == (  # vector V6
        "rC9Oa1Ivq5xXJhS3JWYd3p9c6htaHknGYGA6o6yFuDDIWKOBkqFbif+m91EmGi0C57kLSJRoHvXdDa7GEXyZxA==")
    batch = explain("/derivatives/api/v3/batchorder", "1700000000000", BATCH, OUR_SECRET)
    assert batch.variants.loc["decoded postData", "value"] == (  # vector V5-legacy
        "V7klDLc7DkfT7lCiPV2/2Bg5WWGJSi1c6BIZbMpFFJx8o6Ye1fJig4O6WPDaA1+wVjpchteDczHOX+s/Pa/4+w==")
    assert batch.variants.loc["decoded postData", "answer"] == "accepted"


def test_explain_never_shows_the_secret() -> None:
    steps = explain("/derivatives/api/v3/sendorder", "1700000000000", V1_POST, Secret(OUR_SECRET))
    shown = repr(steps) + steps._repr_html_() + steps.steps.to_string() + steps.variants.to_string()
    assert OUR_SECRET not in shown
    assert OUR_SECRET[:20] not in shown
    assert bytes(range(64)).hex() not in shown


def test_every_wrong_variant_is_refused_with_the_exchanges_answer() -> None:
    steps = explain("/derivatives/api/v3/sendorder", "1700000000000", V1_POST, OUR_SECRET)
    refused = steps.variants[~steps.variants["answer"].str.startswith("accepted")]
    assert set(steps.variants.index) == {v.name for v in VARIANTS}
    assert set(refused.index) == {v.name for v in VARIANTS} - {"reference", "decoded postData"}
    assert set(refused["answer"]) == {'{"result":"error","error":"authenticationError"}'}
    assert set(refused["status"]) == {200}  # reference §2.7: the v3 API says so with HTTP 200
    history = explain("/api/history/v3/account-log", "1", "count=10", OUR_SECRET)
    assert history.variants.loc["tutorial", "status"] == 401
    assert history.variants.loc["tutorial", "answer"] == (
        '{"reason":"You are not authorized to access this endpoint.","status":"unauthorized"}')


@pytest.fixture(scope="module")
def strict() -> SimExchange:
    return SimExchange(seed=3, clock=SimClock.fixed("2026-11-01T00:00:00Z"), strict_auth=True)


@pytest.mark.parametrize(
    "variant", [v for v in VARIANTS if not v.accepted_for_now], ids=lambda v: v.name
)
@pytest.mark.parametrize(
    ("method", "path", "post_data"),
    [("GET", "/derivatives/api/v3/openorders", "symbol=PF_XBTUSD&note=a%20b"),
     ("GET", "/api/history/v3/orders", "count=2&tradeable=PF_XBTUSD%2A")],
    ids=["v3", "history"],
)
def test_what_explain_says_the_exchange_answers_is_what_the_simulator_answers(
    strict: SimExchange, variant: object, method: str, path: str, post_data: str
) -> None:
    creds = strict.credentials("full")
    nonce = str(time.time_ns() // 1000)
    row = explain(path, nonce, post_data, creds.secret).variants.loc[variant.name]  # type: ignore[attr-defined]
    headers = {"APIKey": creds.key, row["header"].split(" ")[0]: row["value"]}
    if variant.sends_nonce:  # type: ignore[attr-defined]
        headers["Nonce"] = nonce
    with httpx.Client(transport=SimTransport(strict)) as http:
        answer = http.request(method, f"http://sim.test{path}?{post_data}", headers=headers)
    if row["answer"].startswith("accepted"):
        assert answer.status_code == 200, answer.text
        assert answer.json().get("result") != "error"
        return
    assert answer.status_code == row["status"]
    body = answer.json()
    body.pop("serverTime", None)
    assert body == __import__("json").loads(row["answer"])


def test_the_strict_simulator_refuses_the_legacy_form_and_names_it(strict: SimExchange) -> None:
    creds = strict.credentials("full")
    nonce = str(time.time_ns() // 1000)
    legacy = next(v for v in VARIANTS if v.name == "decoded postData")
    query = "symbol=PF_XBTUSD&note=a%20b"
    value = legacy.sign(creds.secret, query, nonce, "/derivatives/api/v3/openorders")
    headers = {"APIKey": creds.key, "Nonce": nonce, "Authent": value}
    with httpx.Client(transport=SimTransport(strict)) as http:
        answer = http.get(f"http://sim.test/derivatives/api/v3/openorders?{query}", headers=headers)
    assert answer.json()["error"] == "authenticationError"
    assert "URL-decoded" in answer.headers["x-sim-why"]


def test_identify_names_the_mistake_and_not_the_right_recipe() -> None:
    secret = Secret(OUR_SECRET)
    path, nonce = "/derivatives/api/v3/sendorder", "1700000000000"
    right = VARIANTS[0].sign(secret, V1_POST, nonce, path)
    for variant in VARIANTS[1:]:
        value = variant.sign(secret, V1_POST, nonce, path)
        if not variant.sends_nonce or (variant.header == "Authent" and value == right):
            continue  # not told apart by the value (no nonce sent; nothing URL-encoded here)
        found = identify(secret, V1_POST, nonce, path, variant.header, value)
        assert found is not None
        assert found.sign(secret, V1_POST, nonce, path) == value
    assert identify(secret, V1_POST, nonce, path, "Authent", right) is None
