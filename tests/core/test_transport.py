"""Retries, rate limits, the error model and the live gates, against exchange-style servers."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

import kfresearch
from kfresearch.endpoints import (
    BATCHORDER,
    CANCELALLORDERS,
    CANCELORDER,
    EDITORDER,
    ENDPOINTS,
    SENDORDER,
    SET_LEVERAGEPREFERENCES,
)
from kfresearch.errors import (
    APIError,
    AuthenticationError,
    DecodeError,
    InsufficientFundsError,
    InvalidArgumentError,
    LiveTradingDisabledError,
    MarketUnavailableError,
    NonceError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.faults import Fault
from kfresearch.sim.routing import Context, SimError, make_route
from kfresearch.sim.transport import SimTransport
from kfresearch.transport import RetryPolicy, interpret

SECRET = base64.b64encode(b"t" * 64).decode()


def _accounts(ctx: Context) -> dict[str, Any]:
    return {"accounts": {"flex": {"type": "multiCollateralMarginAccount"}}}


def _sendorder(ctx: Context) -> dict[str, Any]:
    return {"sendStatus": {"status": "placed", "cliOrdId": ctx.get("cliOrdId")}}


def _tickers(ctx: Context) -> dict[str, Any]:
    return {"tickers": []}


def _history(ctx: Context) -> dict[str, Any]:
    return {"accountUid": ctx.account_id, "logs": []}


ROUTES = [
    make_route("GET", "/derivatives/api/v3/tickers", _tickers),
    make_route("GET", "/derivatives/api/v3/accounts", _accounts, private=True, cost=2),
    make_route("GET", "/derivatives/api/v3/openorders", _accounts, private=True, cost=2),
    make_route("POST", "/derivatives/api/v3/sendorder", _sendorder, trading=True, cost=10),
    make_route("GET", "/api/history/v3/account-log", _history, private=True, cost=3),
]


def _client(exchange: Any, fake_clock: Any = None, **kwargs: Any) -> kfresearch.Client:
    creds = exchange.credentials(kwargs.pop("key_name", "full"))
    client = kfresearch.Client(
        "sim",
        base_url="http://sim.test",
        key=creds.key,
        secret=creds.secret,
        transport=SimTransport(exchange),
        limiter=kwargs.pop("limiter", None)
        or (RateLimiter(clock=fake_clock.time) if fake_clock else RateLimiter()),
        retry=kwargs.pop("retry", RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01)),
        **kwargs,
    )
    if fake_clock:
        client._sleep = fake_clock.sleep
    return client


# -- authentication ------------------------------------------------------------------


def test_wrong_secret_raises_authentication_error_with_hint(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    creds = exchange.credentials("full")
    good = _client(exchange)
    assert good.request("GET", "/derivatives/api/v3/accounts", private=True)["result"] == "success"
    bad = kfresearch.Client(
        "sim",
        base_url="http://sim.test",
        key=creds.key,
        secret=SECRET,
        transport=SimTransport(exchange),
    )
    with pytest.raises(AuthenticationError) as caught:
        bad.request("GET", "/derivatives/api/v3/accounts", private=True)
    message = str(caught.value)
    assert "authenticationError" in message
    assert "GET /derivatives/api/v3/accounts" in message
    assert "Futures" in message
    assert "doctor" in message
    # history answers bad auth with HTTP 401 and its own body
    with pytest.raises(AuthenticationError) as history:
        bad.request("GET", "/api/history/v3/account-log", private=True)
    assert history.value.status_code == 401


def test_read_only_key_cannot_trade(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    reader = _client(exchange, key_name="read_only")
    assert (
        reader.request("GET", "/derivatives/api/v3/accounts", private=True)["result"] == "success"
    )
    with pytest.raises(AuthenticationError):
        reader.request("POST", "/derivatives/api/v3/sendorder", {"symbol": "PF_XBTUSD"})


# -- retries -------------------------------------------------------------------------


def test_get_survives_two_503s(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("status", path="/accounts", status=503, count=2))
    body = _client(exchange).request("GET", "/derivatives/api/v3/accounts", private=True)
    assert body["accounts"]["flex"]["type"] == "multiCollateralMarginAccount"
    assert exchange.requests_seen == 1  # the two 503s never reached the engine


def test_get_gives_up_after_max_attempts(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("status", path="/accounts", status=502))
    with pytest.raises(ServerError, match="HTTP 502"):
        _client(exchange).request("GET", "/derivatives/api/v3/accounts", private=True)


def test_sendorder_that_times_out_is_not_resent(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("drop_after", path="/sendorder", count=1))
    client = _client(exchange)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.request(
            "POST", "/derivatives/api/v3/sendorder", {"symbol": "PF_XBTUSD", "cliOrdId": "abc-1"}
        )
    assert exchange.requests_seen == 1  # processed once, never re-sent
    assert caught.value.client_order_id == "abc-1"
    assert "NOT re-sent" in str(caught.value)


def test_sendorder_5xx_is_not_resent(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("status", path="/sendorder", status=503, count=1))
    with pytest.raises(OutcomeUnknownError):
        _client(exchange).request("POST", "/derivatives/api/v3/sendorder", {"cliOrdId": "x"})
    assert exchange.requests_seen == 0


def test_sendorder_is_retried_when_the_connection_was_never_made(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("drop_before", path="/sendorder", count=1))
    body = _client(exchange).request("POST", "/derivatives/api/v3/sendorder", {"cliOrdId": "y"})
    assert body["sendStatus"]["status"] == "placed"
    assert exchange.requests_seen == 1


def test_get_read_timeout_is_retried(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("drop_after", path="/accounts", count=1))
    _client(exchange).request("GET", "/derivatives/api/v3/accounts", private=True)
    assert exchange.requests_seen == 2


def test_malformed_body_is_a_decode_error(make_exchange: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("malformed", path="/tickers", count=1))
    with pytest.raises(DecodeError, match="not JSON"):
        _client(exchange).request("GET", "/derivatives/api/v3/tickers")


# -- rate limits ---------------------------------------------------------------------


def test_burst_of_three_budgets_waits_instead_of_drawing_api_limit_exceeded(
    make_exchange: Any, fake_clock: Any
) -> None:
    exchange = make_exchange(ROUTES, rate_clock=fake_clock.time)
    client = _client(exchange, fake_clock)
    # 150 sendorders x 10 = 1500 units = 3x the 500-unit budget
    for i in range(150):
        body = client.request("POST", "/derivatives/api/v3/sendorder", {"cliOrdId": f"o{i}"})
        assert body["result"] == "success"
    assert exchange.requests_seen == 150
    # the first 500 units are free, the other 1000 refill at 50 units/s
    assert fake_clock.slept >= 1000 / 50 - 1e-6


def test_without_the_client_limiter_the_server_enforces_the_budget(
    make_exchange: Any, fake_clock: Any
) -> None:
    exchange = make_exchange(ROUTES, rate_clock=fake_clock.time)
    client = _client(exchange, limiter=RateLimiter.unlimited(), retry=RetryPolicy(max_attempts=1))
    for i in range(50):  # exactly the 500-unit budget
        client.request("POST", "/derivatives/api/v3/sendorder", {"cliOrdId": f"o{i}"})
    with pytest.raises(RateLimitError, match="apiLimitExceeded"):
        client.request("POST", "/derivatives/api/v3/sendorder", {"cliOrdId": "one-too-many"})


def test_server_429_with_reset_header_is_waited_out(make_exchange: Any, fake_clock: Any) -> None:
    exchange = make_exchange(ROUTES, rate_clock=fake_clock.time)
    exchange.add_fault(Fault("rate_limit", path="/account-log", seconds=30, count=1))
    client = _client(exchange, fake_clock)
    body = client.request("GET", "/api/history/v3/account-log", {"count": 10}, private=True)
    assert body["logs"] == []
    assert fake_clock.slept >= 30


def test_api_limit_exceeded_in_a_200_body_is_retried(make_exchange: Any, fake_clock: Any) -> None:
    calls = {"n": 0}

    def flaky(ctx: Context) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise SimError("apiLimitExceeded")
        return {"ok": True}

    exchange = make_exchange(
        [make_route("POST", "/derivatives/api/v3/sendorder", flaky, trading=True, cost=10)]
    )
    client = _client(exchange, fake_clock)
    assert client.request("POST", "/derivatives/api/v3/sendorder", {"cliOrdId": "z"})["ok"] is True
    assert calls["n"] == 2  # the exchange did not process the first: retrying is safe
    assert fake_clock.slept > 0


def test_history_pool_is_separate_and_charged_by_count(make_exchange: Any, fake_clock: Any) -> None:
    exchange = make_exchange(ROUTES, rate_clock=fake_clock.time)
    client = _client(exchange, fake_clock)
    for _ in range(33):  # 33 x 3 = 99 of the 100 tokens
        client.request("GET", "/api/history/v3/account-log", {"count": 500}, private=True)
    assert fake_clock.slept == 0
    client.request("GET", "/derivatives/api/v3/accounts", private=True)  # other pool: no wait
    assert fake_clock.slept == 0
    client.request("GET", "/api/history/v3/account-log", {"count": 500}, private=True)
    assert fake_clock.slept == pytest.approx(2 * 6.0)  # 2 missing tokens at 1 token per 6 s


# -- live gates ----------------------------------------------------------------------


def test_live_order_without_opt_in_sends_nothing() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={}))
    live = kfresearch.Client("live", key="k", secret=SECRET, transport=transport)
    for endpoint in (SENDORDER, EDITORDER, CANCELORDER, CANCELALLORDERS, BATCHORDER):
        with pytest.raises(LiveTradingDisabledError, match="allow_trading=True"):
            live.request(endpoint.method, endpoint.path, {"symbol": "PF_XBTUSD"}, private=True)
    assert sent == []
    allowed = kfresearch.Client(
        "live", key="k", secret=SECRET, transport=transport, allow_trading=True
    )
    allowed.request("POST", SENDORDER.path, {"symbol": "PF_XBTUSD"}, private=True)
    assert len(sent) == 1


def test_every_account_changing_call_is_gated_on_live() -> None:
    """The gate follows the endpoint table (method + path), not a list of order paths:
    PUT /leveragepreferences went out without allow_trading before."""
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={}))
    live = kfresearch.Client("live", key="k", secret=SECRET, transport=transport)
    changing = [e for e in ENDPOINTS.values() if e.changes_account]
    assert {e.name for e in changing} >= {
        "set_leveragepreferences", "set_pnlpreferences", "sendorder", "cancelallordersafter"
    }
    assert all(e.method != "GET" for e in changing)
    assert [e.name for e in ENDPOINTS.values() if e.method != "GET" and not e.changes_account] \
        == ["order_status", "websockets_token"]  # the POSTs that only read
    for endpoint in changing:
        path = endpoint.url_path({"symbol": "PF_XBTUSD"})
        with pytest.raises(LiveTradingDisabledError):
            live.request(endpoint.method, path, {"symbol": "PF_XBTUSD"}, private=True)
    # an unknown path with a method that may change something is gated too
    with pytest.raises(LiveTradingDisabledError):
        live.request("DELETE", "/derivatives/api/v3/something-new", private=True)
    assert sent == []
    live.request("POST", "/derivatives/api/v3/orders/status", {"orderIds": ["x"]}, private=True)
    assert len(sent) == 1  # reading order status is not gated


def test_the_escape_hatch_refuses_order_paths_with_the_wrong_method() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={}))
    for env, allow in (("live", False), ("live", True), ("sim", False)):
        kf = kfresearch.Client(env, key="k", secret=SECRET, transport=transport,
                               allow_trading=allow)
        for method, path in (("GET", SENDORDER.path), ("DELETE", CANCELORDER.path),
                             ("POST", SET_LEVERAGEPREFERENCES.path)):
            with pytest.raises(ValidationError, match=r"takes (POST|GET or PUT), not") as info:
                kf.request(method, path, {"symbol": "PF_XBTUSD"}, private=True)
            assert info.value.field == "method"
    assert sent == []


def test_live_opt_in_by_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFRESEARCH_ALLOW_LIVE_TRADING", "1")
    assert kfresearch.Client("live", key="k", secret=SECRET).allow_trading


def test_private_call_without_credentials_names_the_variables() -> None:
    live = kfresearch.Client("live", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    with pytest.raises(kfresearch.CredentialsError, match="KFRESEARCH_API_KEY"):
        live.request("GET", "/derivatives/api/v3/accounts", private=True)


# -- the error model -----------------------------------------------------------------


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else httpx.Response(200, json=body).content
    return httpx.Response(status, content=content, headers=headers or {})


@pytest.mark.parametrize(
    ("status", "body", "cls", "error"),
    [
        (
            200,
            {"result": "error", "error": "authenticationError"},
            AuthenticationError,
            "authenticationError",
        ),
        (200, {"result": "error", "error": "apiLimitExceeded"}, RateLimitError, "apiLimitExceeded"),
        (
            200,
            {"result": "error", "error": "nonceBelowThreshold"},
            NonceError,
            "nonceBelowThreshold",
        ),
        (200, {"result": "error", "error": "nonceDuplicate"}, NonceError, "nonceDuplicate"),
        (
            200,
            {"result": "error", "error": "invalidArgument: size"},
            InvalidArgumentError,
            "invalidArgument: size",
        ),
        (
            200,
            {"result": "error", "error": "requiredArgumentMissing"},
            InvalidArgumentError,
            "requiredArgumentMissing",
        ),
        (200, {"result": "error", "error": "notFound"}, NotFoundError, "notFound"),
        (
            200,
            {"result": "error", "error": "marketUnavailable"},
            MarketUnavailableError,
            "marketUnavailable",
        ),
        (
            200,
            {"result": "error", "error": "accountInactive"},
            MarketUnavailableError,
            "accountInactive",
        ),
        (
            200,
            {"result": "error", "error": "insufficientFunds"},
            InsufficientFundsError,
            "insufficientFunds",
        ),
        (200, {"result": "error", "error": "Server Error"}, ServerError, "Server Error"),
        (
            500,
            {"errors": [{"code": 92, "message": "INSUFFICIENT_MARGIN"}]},
            InsufficientFundsError,
            "INSUFFICIENT_MARGIN",
        ),
        (
            429,
            {"status": "TOO_MANY_REQUESTS", "errors": [{"code": 10, "message": "rate"}]},
            RateLimitError,
            "rate",
        ),
        (
            401,
            {"reason": "You are not authorized to access this endpoint.", "status": "unauthorized"},
            AuthenticationError,
            "You are not authorized to access this endpoint.",
        ),
        (403, b"Forbidden", PermissionDeniedError, "Forbidden"),
        (404, b"", NotFoundError, "HTTP 404"),
        (
            400,
            {"result": "error", "errors": [{"severity": "ERROR", "msg": "Invalid resolution"}]},
            InvalidArgumentError,
            "Invalid resolution",
        ),
        (503, b"<html>down</html>", ServerError, "<html>down</html>"),
        (418, b"teapot", APIError, "teapot"),
    ],
)
def test_error_bodies_map_to_the_exception_tree(
    status: int, body: Any, cls: type, error: str
) -> None:
    with pytest.raises(cls) as caught:
        interpret(ENDPOINTS["accounts"], _response(status, body))
    assert type(caught.value) is cls
    assert caught.value.error == error
    assert caught.value.endpoint == "GET /derivatives/api/v3/accounts"
    assert caught.value.hint


def test_429_text_plain_carries_the_reset() -> None:
    with pytest.raises(RateLimitError) as caught:
        interpret(
            ENDPOINTS["account_log"],
            _response(429, b"Too Many Requests", {"rate-limit-reset": "42"}),
        )
    assert caught.value.retry_after == 42.0


def test_order_rejection_in_a_success_body_is_returned_not_raised() -> None:
    body = {"result": "success", "sendStatus": {"status": "postWouldExecute"}}
    assert interpret(ENDPOINTS["sendorder"], _response(200, body)) == body


@pytest.mark.anyio
async def test_async_client_shares_the_core(make_exchange: Any, fake_clock: Any) -> None:
    exchange = make_exchange(ROUTES)
    exchange.add_fault(Fault("status", path="/accounts", status=503, count=2))
    creds = exchange.credentials("full")
    async with kfresearch.AsyncClient(
        "sim",
        base_url="http://sim.test",
        key=creds.key,
        secret=creds.secret,
        transport=SimTransport(exchange),
        retry=RetryPolicy(base_delay=0.001),
    ) as client:
        client._sleep = fake_clock.asleep
        body = await client.request("GET", "/derivatives/api/v3/accounts", private=True)
    assert body["result"] == "success"
    assert fake_clock.slept > 0


def test_a_request_that_keeps_timing_out_raises_request_timeout_error(fake_clock: Any) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("too slow", request=request)

    client = kfresearch.Client("live", transport=httpx.MockTransport(timeout),
                               retry=RetryPolicy(max_attempts=2, base_delay=0.001))
    client._sleep = fake_clock.sleep
    with pytest.raises(kfresearch.RequestTimeoutError, match="ConnectTimeout after 2 attempts") \
            as caught:
        client.request("GET", "/derivatives/api/v3/tickers")
    # ours, a network error, and the builtin TimeoutError too; no name shadows the builtin
    assert isinstance(caught.value, kfresearch.NetworkError)
    assert isinstance(caught.value, TimeoutError)
    assert TimeoutError.__module__ == "builtins"
    assert not hasattr(kfresearch, "TimeoutError")
