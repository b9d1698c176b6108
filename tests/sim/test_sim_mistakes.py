"""A learner's mistakes fail on the simulator exactly as on the exchange: the error strings,
bodies and HTTP statuses are read from the reference itself (§2.7, §5), and the simulator
also says why (request log, ``X-Sim-Why``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kfresearch.auth import rest_signature
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.transport import SimTransport

REFERENCE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "kraken-futures-api.md"
).read_text()
BASE = "http://sim.test"


def _quoted_json(prefix: str) -> dict[str, Any]:
    """The first JSON body in the reference that starts with ``prefix`` (its own text)."""
    found = re.search(r"`(" + re.escape(prefix) + r"[^`]*)`", REFERENCE)
    assert found, prefix
    return dict(json.loads(found.group(1)))


#: §2.7: the v3 answer to a request that cannot be authenticated (HTTP 200) ...
V3_AUTH_ERROR = _quoted_json('{"result":"error","error":"authenticationError"')
#: ... and the history service's (HTTP 401)
HISTORY_AUTH_ERROR = _quoted_json('{"reason":"You are not authorized')
#: §5.1: the error strings of the v3 envelope and their meanings
ERRORS = dict(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|$", REFERENCE, flags=re.M))


@pytest.fixture(scope="module")
def ex() -> SimExchange:
    return SimExchange(seed=5, clock=SimClock.fixed("2026-11-01T00:00:00Z"))


def _nonce() -> str:
    return str(time.time_ns() // 1000)


def _send(ex: SimExchange, method: str, target: str, headers: dict[str, str] | None = None,
          body: str = "") -> httpx.Response:
    with httpx.Client(transport=SimTransport(ex)) as http:
        return http.request(method, BASE + target, headers=headers or {}, content=body.encode())


def _tutorial_signature(secret: str, nonce: str, path: str, post_data: str) -> str:
    """The popular tutorial's recipe: HMAC-SHA256 of nonce + path + body (reference §8)."""
    mac = hmac.new(base64.b64decode(secret), (nonce + path + post_data).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _without_time(response: httpx.Response) -> dict[str, Any]:
    body = dict(response.json())
    body.pop("serverTime", None)
    return body


def _last(ex: SimExchange) -> Any:
    return ex.request_log[-1]


def test_the_reference_wording_is_what_these_tests_compare_with() -> None:
    assert V3_AUTH_ERROR["error"] == "authenticationError"
    assert HISTORY_AUTH_ERROR == {
        "reason": "You are not authorized to access this endpoint.", "status": "unauthorized"}
    for error in ("authenticationError", "nonceBelowThreshold", "nonceDuplicate", "notFound",
                  "requiredArgumentMissing", "apiLimitExceeded"):
        assert error in ERRORS


def test_the_tutorials_signature_gets_authentication_error(ex: SimExchange) -> None:
    creds, nonce = ex.credentials("full"), _nonce()
    path = "/derivatives/api/v3/openpositions"
    headers = {"APIKey": creds.key, "Nonce": nonce,
               "Authentification": _tutorial_signature(creds.secret.reveal(), nonce, path, "")}
    answer = _send(ex, "GET", path, headers)
    assert answer.status_code == 200  # §2.7 / §5.4: v3 errors come with HTTP 200
    assert _without_time(answer) == {k: v for k, v in V3_AUTH_ERROR.items() if k != "serverTime"}
    assert "serverTime" in answer.json()
    assert "tutorial" in answer.headers["x-sim-why"]
    assert (_last(ex).error, _last(ex).check) == ("authenticationError", "authentication")


def test_hmac_sha256_in_the_right_header_gets_authentication_error(ex: SimExchange) -> None:
    creds, nonce = ex.credentials("full"), _nonce()
    path = "/derivatives/api/v3/openorders"
    message = (nonce + path.removeprefix("/derivatives")).encode()
    value = base64.b64encode(
        hmac.new(creds.secret.key_bytes(), message, hashlib.sha256).digest()).decode()
    answer = _send(ex, "GET", path, {"APIKey": creds.key, "Nonce": nonce, "Authent": value})
    assert (answer.status_code, answer.json()["error"]) == (200, "authenticationError")
    assert "HMAC-SHA256" in answer.headers["x-sim-why"]


def test_the_header_named_authentification_gets_authentication_error(ex: SimExchange) -> None:
    creds, nonce = ex.credentials("full"), _nonce()
    for path, status, expected in [
        ("/derivatives/api/v3/accounts", 200, V3_AUTH_ERROR),
        ("/api/history/v3/account-log", 401, HISTORY_AUTH_ERROR),
    ]:
        nonce = str(int(nonce) + 1)
        right = rest_signature(creds.secret, "", nonce, path)
        answer = _send(ex, "GET", path,
                       {"APIKey": creds.key, "Nonce": nonce, "Authentification": right})
        assert answer.status_code == status
        assert _without_time(answer) == {k: v for k, v in expected.items() if k != "serverTime"}
        assert "only the header's name is wrong" in answer.headers["x-sim-why"]


def test_a_lower_case_symbol_is_read_and_the_tutorials_is_not_found(ex: SimExchange) -> None:
    # §4.0: symbols are upper case in answers and read in any case (Kraken's own example
    # asks for tickers/pi_xbtusd); §5.3: tickers/{symbol} answers 404 for unknown symbols
    known = _send(ex, "GET", "/derivatives/api/v3/tickers/pi_xbtusd")
    assert known.status_code == 200
    assert known.json()["ticker"]["symbol"] == "PI_XBTUSD"
    tutorial = _send(ex, "GET", "/derivatives/api/v3/tickers/f_xbtusd_240628")
    assert tutorial.status_code == 404
    assert _without_time(tutorial) == {"result": "error", "error": "notFound"}
    assert "FI_XBTUSD_YYMMDD" in tutorial.headers["x-sim-why"]


@pytest.mark.parametrize(
    ("target", "hint"),
    [("/api/v3/openpositions", "served under /derivatives"),  # the tutorial's base URL (§8)
     ("/derivatives/api/v3/positions", "closest: /derivatives/api/v3/openpositions")],
)
def test_a_wrong_path_is_not_found(ex: SimExchange, target: str, hint: str) -> None:
    answer = _send(ex, "GET", target)
    assert answer.status_code == 404
    assert _without_time(answer) == {"result": "error", "error": "notFound"}
    assert hint in answer.headers["x-sim-why"]
    assert (_last(ex).status, _last(ex).check) == (404, "path")


def test_a_repeated_and_a_stale_nonce_are_refused(ex: SimExchange) -> None:
    creds = ex.credentials("read_only")
    path = "/derivatives/api/v3/openorders"
    first = int(_nonce())

    def signed(nonce: int) -> httpx.Response:
        value = rest_signature(creds.secret, "", str(nonce), path)
        return _send(ex, "GET", path, {"APIKey": creds.key, "Nonce": str(nonce), "Authent": value})

    assert signed(first).json()["result"] == "success"
    replay = signed(first)
    assert (replay.status_code, replay.json()["error"]) == (200, "nonceDuplicate")
    assert "already used" in replay.headers["x-sim-why"]
    for step in range(1, 60):  # the exchange tolerates some disorder, then draws a line
        assert signed(first + step).json()["result"] == "success"
    stale = signed(first - 1000)
    assert (stale.status_code, stale.json()["error"]) == (200, "nonceBelowThreshold")
    assert "must keep increasing" in stale.headers["x-sim-why"]


def test_a_missing_field_is_required_argument_missing(ex: SimExchange) -> None:
    creds, nonce = ex.credentials("full"), _nonce()
    path = "/derivatives/api/v3/sendorder"
    body = "orderType=lmt&symbol=PF_XBTUSD&size=0.001&limitPrice=50000"  # no side
    value = rest_signature(creds.secret, body, nonce, path)
    answer = _send(ex, "POST", path, {"APIKey": creds.key, "Nonce": nonce, "Authent": value,
                                      "Content-Type": "application/x-www-form-urlencoded"}, body)
    assert (answer.status_code, answer.json()["error"]) == (200, "requiredArgumentMissing")
    assert answer.headers["x-sim-why"] == "the argument 'side' is missing"


def test_a_good_request_carries_no_explanation(ex: SimExchange) -> None:
    answer = _send(ex, "GET", "/derivatives/api/v3/tickers")
    assert answer.status_code == 200
    assert "x-sim-why" not in answer.headers
    entry = _last(ex)
    assert (entry.method, entry.target, entry.error, entry.check, entry.why) == (
        "GET", "/derivatives/api/v3/tickers", None, None, None)
