"""Sending requests: rate limits, retries and the error model, once for sync and async.

The logic lives in :meth:`Core.exchange`, a generator that *describes* I/O
instead of doing it: it yields :class:`Sleep` (wait this long) and
:class:`Transmit` (send this request) and receives the response or the exception.
:func:`run_sync` and :func:`run_async` are the only places that block or
await, so the blocking :class:`~kfresearch.Client` and the
:class:`~kfresearch.AsyncClient` share every decision.

Retry rules
-----------
* Rate limited (``apiLimitExceeded`` in a 200 body, HTTP 429,
  ``rate-limit-reset``): the exchange did not process the request, so any
  request is retried after the pool refills.
* Connection not made (connect error or timeout, pool timeout): nothing was
  sent, so any request is retried.
* 5xx and read/write timeouts or a dropped connection: retried only when the
  endpoint is idempotent. For an order-changing request the outcome is
  unknown: :class:`~kfresearch.errors.OutcomeUnknownError` is raised with the
  client order id, never a blind re-send.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from kfresearch.auth import KrakenAuth, SpotAuth
from kfresearch.credentials import Credentials
from kfresearch.endpoints import Endpoint, Params, encode_params
from kfresearch.environments import Environment
from kfresearch.errors import (
    APIError,
    AuthenticationError,
    CredentialsError,
    DecodeError,
    InsufficientFundsError,
    InvalidArgumentError,
    LiveTradingDisabledError,
    MarketUnavailableError,
    NetworkError,
    NonceError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from kfresearch.ratelimit import RateLimiter
from kfresearch.trace.hook import RECORDERS, record_http

__all__ = [
    "Core",
    "RetryPolicy",
    "Sleep",
    "Transmit",
    "error_of",
    "interpret",
    "masked_headers",
    "run_async",
    "run_sync",
]

log = logging.getLogger("kfresearch.transport")

_SECRET_HEADERS = {"apikey", "authent", "api-key", "api-sign"}

#: The exchange's error strings (reference §5) and the newer bodies' codes.
_ERRORS: dict[str, type[APIError]] = {
    "authenticationError": AuthenticationError,
    "UNAUTHORIZED": AuthenticationError,
    "unauthorized": AuthenticationError,
    "apiLimitExceeded": RateLimitError,
    "TOO_MANY_REQUESTS": RateLimitError,
    "nonceBelowThreshold": NonceError,
    "nonceDuplicate": NonceError,
    "invalidArgument": InvalidArgumentError,
    "requiredArgumentMissing": InvalidArgumentError,
    "Json Parse Error": InvalidArgumentError,
    "Bad Request": InvalidArgumentError,
    "invalidAccount": InvalidArgumentError,
    "invalidAmount": InvalidArgumentError,
    "invalidUnit": InvalidArgumentError,
    "notFound": NotFoundError,
    "contractNotFound": NotFoundError,
    "marketUnavailable": MarketUnavailableError,
    "accountInactive": MarketUnavailableError,
    "Unavailable": MarketUnavailableError,
    "upstreamUnavailable": MarketUnavailableError,  # demo's prices cannot be fetched
    "insufficientFunds": InsufficientFundsError,
    "INSUFFICIENT_MARGIN": InsufficientFundsError,
    "Server Error": ServerError,
    "unknownError": ServerError,
    # the Spot REST API (GetWebSocketsToken, reference kraken-unified-ws.md §1.3)
    "EAPI:Invalid key": AuthenticationError,
    "EAPI:Invalid signature": AuthenticationError,
    "EAPI:Invalid nonce": NonceError,
    "EGeneral:Permission denied": PermissionDeniedError,
    "EAPI:Rate limit exceeded": RateLimitError,
    "EGeneral:Temporary lockout": RateLimitError,
    "EService:Unavailable": MarketUnavailableError,
    "EService:Busy": ServerError,
}
_CODES: dict[int, type[APIError]] = {
    10: RateLimitError,
    18: AuthenticationError,
    41: InsufficientFundsError,
    87: NotFoundError,
    88: InvalidArgumentError,
    89: InvalidArgumentError,
    90: InvalidArgumentError,
    92: InsufficientFundsError,
}
_HINTS: dict[str, str] = {
    "requiredArgumentMissing": "A required parameter is missing; check the call's arguments.",
    "Json Parse Error": "The json parameter did not parse; kfresearch encodes it for you "
    "when you use kf.batch(...).",
    "accountInactive": "The Futures account is inactive: fund it or use env='sim'/'demo'.",
    "upstreamUnavailable": "demo takes its prices from the live exchange, which cannot be "
    "reached: nothing was sent and no order was accepted. Check the connection and try again, "
    'or work offline with env="sim" (synthetic prices).',
    "EAPI:Invalid key": "The Unified WebSocket's token needs a Kraken (spot-style) API key "
    "(KFRESEARCH_UWS_API_KEY / KFRESEARCH_UWS_API_SECRET); a Derivatives (Futures) key is "
    "refused there. `kfresearch doctor` tells which key is which.",
    "EGeneral:Permission denied": "The Kraken key lacks the 'Access WebSocket API' permission: "
    "add it on kraken.com (Settings > API).",
    "EGeneral:Temporary lockout": "Kraken locked the key out for about 15 minutes after too "
    "many failures; wait before retrying (kfresearch does not retry it).",
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidArgumentError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line: ``APIKey`` and ``Authent`` masked."""
    return {
        name: ("********" if name.lower() in _SECRET_HEADERS else value)
        for name, value in headers.items()
    }


class Answered(Protocol):
    """What :func:`interpret` reads of an answer: an :class:`httpx.Response`, or an in-process
    exchange's answer (:mod:`kfresearch.strategy.direct`) with the same three attributes
    (header names in lower case)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def _retry_after(response: Answered) -> float | None:
    for name in ("rate-limit-reset", "retry-after"):
        value = response.headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def error_of(body: Any) -> tuple[str, int | None] | None:
    """(error text, numeric code) when ``body`` is one of the exchange's error shapes.

    >>> error_of({"result": "error", "error": "apiLimitExceeded"})
    ('apiLimitExceeded', None)
    >>> error_of({"result": "success"}) is None
    True
    """
    if not isinstance(body, dict):
        return None
    spot = body.get("error")
    if isinstance(spot, list):  # the Spot REST shape: {"error": ["EAPI:Invalid key"], ...}
        return (str(spot[0]), None) if spot else None
    if body.get("result") == "error" or ("errors" in body and body.get("result") != "success"):
        error = body.get("error")
        errors = body.get("errors")
        code: int | None = None
        if not error and isinstance(errors, list) and errors:
            first = errors[0]
            if isinstance(first, dict):
                raw_code = first.get("code")
                code = raw_code if isinstance(raw_code, int) else None
                error = first.get("message") or first.get("msg") or first.get("type")
            else:
                error = str(first)
        if not error:
            error = body.get("status") or "unknownError"
        return str(error), code
    if body.get("status") == "unauthorized" or (
        "reason" in body and body.get("status") not in (None, "ok", "success")
    ):
        return str(body.get("reason") or body.get("status")), None
    return None


def interpret(endpoint: Endpoint, response: Answered) -> Any:
    """The decoded JSON body, or the exception the answer means.

    v3 answers errors with HTTP 200 and ``result: error``; history answers
    401/429 with its own bodies; charts use 400/404. Order rejections are
    *not* errors here: they arrive as ``result: success`` with a status, and
    the order methods check it.
    """
    where = endpoint.describe()
    status = response.status_code
    content = response.content
    if endpoint.raw and status == 200 and content[:1] == b"{" and content.rstrip()[-1:] == b"}":
        return content  # charts/history answer errors with 4xx: a 200 object is a success
    if endpoint.text and status == 200:
        return content.decode("utf-8")  # history answers errors with 401/429
    try:
        body: Any = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    found = error_of(body)
    if found is None and status < 400:
        if body is None:
            preview = content[:80].decode("utf-8", "replace")
            raise DecodeError(
                f"{where}: HTTP {status} with a body that is not JSON ({preview!r}). "
                "The server may be a proxy or a maintenance page; try again later.",
                endpoint=where,
            )
        return body
    error, code = found if found else (content[:200].decode("utf-8", "replace").strip(), None)
    cls: type[APIError] | None = _ERRORS.get(error) or (_CODES.get(code) if code else None)
    if cls is None and "invalidArgument" in error:
        cls = InvalidArgumentError
    if status >= 500:
        cls = cls if cls is InsufficientFundsError else ServerError
    elif cls is None:
        cls = _BY_STATUS.get(status, APIError)
    error = error or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "endpoint": where,
        "status_code": status,
        "hint": _HINTS.get(error),
        "body": body,
    }
    if issubclass(cls, RateLimitError):
        raise cls(error, retry_after=_retry_after(response), **kwargs)
    raise cls(error, **kwargs)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    The n-th retry waits a random time between half and all of
    ``min(max_delay, base_delay * 2**n)`` (exponential backoff with jitter,
    so clients that failed together do not retry together).
    """

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0**attempt)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` (a rate-limit pool refills, or a retry backs off)."""

    seconds: float


@dataclass(frozen=True)
class Transmit:
    """Send ``request`` (signed with ``auth``) and hand back the response or the httpx error."""

    request: httpx.Request
    auth: httpx.Auth | None  # None for public endpoints: they are sent unsigned


Step = Generator[Sleep | Transmit, Any, Any]

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Core:
    """Request building, signing, rate limiting, retries and error mapping.

    Holds no connection: the clients own the :class:`httpx.Client` or
    :class:`httpx.AsyncClient` and drive :meth:`exchange` with
    :func:`run_sync` / :func:`run_async`.
    """

    def __init__(
        self,
        env: Environment,
        credentials: Credentials | None,
        *,
        limiter: RateLimiter,
        retry: RetryPolicy,
        allow_trading: bool,
        seed: int | None = None,
        spot_credentials: Credentials | None = None,
    ) -> None:
        self.env = env
        self.credentials = credentials
        self.spot_credentials = spot_credentials
        self.auth = KrakenAuth(credentials) if credentials else None
        self._auths: dict[tuple[str, str], httpx.Auth] = {}
        self.limiter = limiter
        self.retry = retry
        self.allow_trading = allow_trading
        self._rng = random.Random(seed)  # noqa: S311 - backoff jitter, not cryptography

    def build_request(
        self, endpoint: Endpoint, params: Params | None, path_params: Mapping[str, str] | None
    ) -> httpx.Request:
        """The request as it goes on the wire (unsigned: the auth signs on send)."""
        base = self.env.spot_url if endpoint.scheme == "spot" else self.env.base_url
        url = base + endpoint.url_path(path_params)
        encoded = encode_params(params)
        if endpoint.method == "POST":
            return httpx.Request(
                "POST",
                url,
                content=encoded.encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        return httpx.Request(endpoint.method, f"{url}?{encoded}" if encoded else url)

    def check_allowed(self, endpoint: Endpoint, *, via_uws: bool = False) -> None:
        """Raise before anything is sent when the call may not be made.

        The live gate comes first: a user without keys who tries a live order
        should learn about the gate, not only about the keys. ``via_uws``: the
        call goes over the Unified WebSocket, whose private calls need the
        Kraken spot-style key.
        """
        if endpoint.changes_account and self.env.real_money and not self.allow_trading:
            raise LiveTradingDisabledError(
                f"{endpoint.describe()} changes the account on LIVE (real money) and live trading "
                "is not enabled, so nothing was sent. To trade for real, connect with "
                "kfresearch.connect(env='live', allow_trading=True) or set "
                "KFRESEARCH_ALLOW_LIVE_TRADING=1; to practise, use env='demo' or env='sim'."
            )
        if endpoint.private and (endpoint.key_kind == "spot" or via_uws):
            if self.spot_credentials is None:
                raise CredentialsError(
                    f"{endpoint.describe()} needs a Kraken (spot-style) API key for the Unified "
                    "WebSocket and none was found. Set KFRESEARCH_UWS_API_KEY and "
                    "KFRESEARCH_UWS_API_SECRET (or pass uws_key= and uws_secret=); "
                    f"for {self.env.name}: {self.env.keys_help}."
                )
            return
        if endpoint.private and self.credentials is None:
            raise CredentialsError(
                f"{endpoint.describe()} needs API credentials and none were found. Set "
                f"KFRESEARCH_API_KEY and KFRESEARCH_API_SECRET (or pass key= and secret=); "
                f"for {self.env.name}: {self.env.keys_help}."
            )

    def exchange(
        self,
        endpoint: Endpoint,
        params: Params | None = None,
        path_params: Mapping[str, str] | None = None,
    ) -> Step:
        """Send ``endpoint`` until it succeeds or fails for good; return the decoded body."""
        self.check_allowed(endpoint)
        where = endpoint.describe()
        cost = endpoint.cost_of(params or {})
        for attempt in range(self.retry.max_attempts):
            traced = bool(RECORDERS)  # the only cost of tracing while no trace is open
            before = self.limiter.level(endpoint.pool) if traced else None
            wait = self.limiter.reserve(endpoint.pool, cost)
            if wait > 0:
                log.debug("%s waits %.3fs for the %s rate-limit pool", where, wait, endpoint.pool)
                yield Sleep(wait)
            request = self.build_request(endpoint, params, path_params)
            if traced:
                sent_at, started = time.time(), time.perf_counter()
            outcome = yield Transmit(request, self.auth_for(endpoint) if endpoint.private else None)
            if traced:
                self._record(endpoint, request, outcome, sent_at, started, cost, before, wait,
                             attempt)
            last = attempt + 1 == self.retry.max_attempts
            if isinstance(outcome, httpx.Response):
                _log_response(outcome)
                try:
                    return interpret(endpoint, outcome)
                except RateLimitError as exc:
                    self.limiter.exhaust(endpoint.pool, exc.retry_after)
                    if last:
                        raise
                    log.info("%s rate limited (%s); waiting for the pool", where, exc.error)
                    continue
                except ServerError as exc:
                    if not endpoint.idempotent and outcome.status_code >= 500:
                        raise self._unknown(
                            endpoint, params, f"HTTP {outcome.status_code}"
                        ) from exc
                    if last or not endpoint.idempotent:
                        raise
            elif isinstance(outcome, httpx.HTTPError):
                never_sent = isinstance(outcome, _NEVER_SENT)
                if not never_sent and not endpoint.idempotent:
                    raise self._unknown(endpoint, params, type(outcome).__name__) from outcome
                if last:
                    kind = (
                        RequestTimeoutError
                        if isinstance(outcome, httpx.TimeoutException)
                        else NetworkError
                    )
                    raise kind(
                        f"{where}: {type(outcome).__name__} after {attempt + 1} attempts "
                        f"({outcome}). Check the network and {self.env.base_url}; "
                        "`kfresearch doctor` tests the connection.",
                        endpoint=where,
                    ) from outcome
            else:  # pragma: no cover - the drivers only send responses or httpx errors
                raise TypeError(f"unexpected outcome {outcome!r}")
            delay = self.retry.backoff(attempt, self._rng)
            log.info("%s failed (attempt %d); retrying in %.2fs", where, attempt + 1, delay)
            yield Sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def auth_for(self, endpoint: Endpoint) -> httpx.Auth | None:
        """The signer of ``endpoint``: its scheme, with the key pair of its ``key_kind``."""
        credentials = self.spot_credentials if endpoint.key_kind == "spot" else self.credentials
        if credentials is None:
            return None
        if endpoint.scheme == "futures" and credentials is self.credentials:
            return self.auth
        found = self._auths.get((endpoint.scheme, endpoint.key_kind))
        if found is None:
            found = SpotAuth(credentials) if endpoint.scheme == "spot" else KrakenAuth(credentials)
            self._auths[(endpoint.scheme, endpoint.key_kind)] = found
        return found

    def _record(
        self,
        endpoint: Endpoint,
        request: httpx.Request,
        outcome: Any,
        sent_at: float,
        started: float,
        cost: float,
        before: float | None,
        wait: float,
        attempt: int,
    ) -> None:
        """Give the open traces this attempt (:mod:`kfresearch.trace.hook`)."""
        elapsed = time.perf_counter() - started
        sent = outcome.request if isinstance(outcome, httpx.Response) else request
        record_http(
            env=self.env.name,
            endpoint=endpoint.describe(),
            request=sent,
            outcome=outcome,
            sent_at=sent_at,
            elapsed=elapsed,
            pool=endpoint.pool if cost else None,
            cost=cost,
            pool_before=before if cost else None,
            pool_after=self.limiter.level(endpoint.pool) if cost else None,
            waited=wait,
            attempt=attempt + 1,
        )

    def _unknown(self, endpoint: Endpoint, params: Params | None, what: str) -> OutcomeUnknownError:
        cli = str((params or {}).get("cliOrdId") or "") or None
        return OutcomeUnknownError(
            f"{endpoint.describe()}: {what} after the request was sent, so the exchange may or "
            f"may not have processed it. It was NOT re-sent. Look it up by client order id "
            f"({cli or 'none was given'}) with kf.order_status(...) or kf.open_orders() "
            "before you try again.",
            endpoint=endpoint.describe(),
            client_order_id=cli,
        )


def _log_response(response: httpx.Response) -> None:
    if log.isEnabledFor(logging.DEBUG):
        request = response.request
        log.debug(
            "%s %s -> %d headers=%s",
            request.method,
            request.url,
            response.status_code,
            masked_headers(request.headers),
        )


def run_sync(step: Step, http: httpx.Client, sleep: Callable[[float], None]) -> Any:
    """Drive :meth:`Core.exchange` with a blocking client."""
    try:
        action = next(step)
        while True:
            if isinstance(action, Sleep):
                sleep(action.seconds)
                action = step.send(None)
                continue
            try:
                outcome: Any = http.send(action.request, auth=action.auth)
            except httpx.HTTPError as exc:
                outcome = exc
            action = step.send(outcome)
    except StopIteration as done:
        return done.value


async def run_async(
    step: Step,
    http: httpx.AsyncClient,
    sleep: Callable[[float], Awaitable[None]],
) -> Any:
    """Drive :meth:`Core.exchange` with an async client."""
    try:
        action = next(step)
        while True:
            if isinstance(action, Sleep):
                await sleep(action.seconds)
                action = step.send(None)
                continue
            try:
                outcome: Any = await http.send(action.request, auth=action.auth)
            except httpx.HTTPError as exc:
                outcome = exc
            action = step.send(outcome)
    except StopIteration as done:
        return done.value
