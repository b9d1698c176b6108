"""The simulated exchange's front door: the exchange's checks, then the route's handler.

:meth:`SimExchange.handle` takes a raw HTTP request (method, target, headers,
body) and returns a raw answer, exactly where the real exchange sits behind the
transport. Every request passes the same checks, in the exchange's order
(:data:`CHECKS`); the first that fails answers:

1. **path**: no route for the path is 404 ``notFound`` (405 when the path
   exists under another method);
2. **arguments**: a required argument the route declares is missing:
   ``requiredArgumentMissing`` (so ``POST /sendorder`` with no parameters gets
   that answer even with an unknown key, as on the exchange);
3. **authentication** (private routes): the signature (reference §2):
   ``postData + nonce + endpointPath`` with only a leading ``/derivatives``
   stripped, postData as sent. The legacy form (postData URL-decoded) is still
   accepted unless ``strict_auth`` (``--strict-auth``). Then the nonce:
   optional; when sent, a reused one is ``nonceDuplicate`` and one below the
   recent window ``nonceBelowThreshold``;
4. **permissions**: a read-only key cannot trade; only a withdrawal key may
   withdraw (the simulator provisions none);
5. **rate limit**: the two cost-based pools (§6): ``apiLimitExceeded`` in a
   200 body for ``/derivatives``, HTTP 429 ``text/plain`` with
   ``rate-limit-reset`` for ``/api/history``.

Errors are rendered per service: v3 ``{"result":"error","error":…,"serverTime":…}``
with HTTP 200; history 401 ``{"reason":…,"status":"unauthorized"}``. A refusal
also says *why* in plain words (:mod:`kfresearch.sim.diagnosis`): in the
:attr:`SimExchange.request_log` and in an ``X-Sim-Why`` response header, the
one thing on the wire the exchange itself does not send.

Spot REST paths (``/0/…``: the Unified WebSocket's ``GetWebSocketsToken``)
go to :attr:`SimExchange.uws`, which checks them the Spot way
(:mod:`kfresearch.sim.uws.spot_rest`).

One request is processed at a time (a lock), so the engine needs no locking.
"""

from __future__ import annotations

import bisect
import hmac
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, unquote, unquote_plus

import orjson

from kfresearch.auth import rest_signature, unauthorized_answer
from kfresearch.credentials import Credentials
from kfresearch.errors import ValidationError
from kfresearch.ratelimit import POOLS, TokenBucket
from kfresearch.sim.clock import SimClock
from kfresearch.sim.diagnosis import LoggedRequest, auth_why, nonce_why, path_why, rate_why
from kfresearch.sim.faults import Fault, Faults
from kfresearch.sim.keys import SimKey, provisioned_keys
from kfresearch.sim.notifications import Notifications
from kfresearch.sim.routes import ROUTES
from kfresearch.sim.routing import Answer, Context, Route, SimError, by_specificity, iso
from kfresearch.timeparse import to_timedelta

if TYPE_CHECKING:
    from kfresearch.sim.uws.service import UwsService

__all__ = ["CHECKS", "LOG_SIZE", "SimExchange", "SimResponse"]

#: The exchange's checks, in the order it makes them (the path is matched first).
CHECKS = ("arguments", "authentication", "permissions", "rate_limit")

#: Requests the :attr:`SimExchange.request_log` keeps (the oldest go first).
LOG_SIZE = 10_000

T = TypeVar("T")
_NONCE_WINDOW = 50  # recent nonces remembered per key; older ones are "below threshold"
_MATCHED_SIZE = 1024  # (method, path) -> route found, kept by SimExchange._match


@dataclass
class SimResponse:
    """A raw answer. ``drop_after`` asks the transport to fail after processing."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    delay: float = 0.0
    drop: str | None = None  # "before" | "after"


def _json(status: int, payload: Any) -> SimResponse:
    return SimResponse(status, orjson.dumps(payload))


class _NonceBook:
    """Recent nonces of one key."""

    def __init__(self) -> None:
        self.recent: list[int] = []

    def check(self, nonce: int) -> str | None:
        recent = self.recent
        position = bisect.bisect_left(recent, nonce)
        if position < len(recent) and recent[position] == nonce:
            return "nonceDuplicate"
        if len(recent) >= _NONCE_WINDOW and nonce < recent[0]:
            return "nonceBelowThreshold"
        recent.insert(position, nonce)
        if len(recent) > _NONCE_WINDOW:
            del recent[0]
        return None


@dataclass
class _Request:
    """One request on its way through the checks; ``key`` is set once authenticated."""

    route: Route
    ctx: Context
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    key: SimKey | None = None


def _denied(route: Route, why: str) -> SimError:
    """The exchange's answer to a bad key, signature or permission, per service."""
    status, body = unauthorized_answer(route.pattern)
    return SimError(
        "authenticationError",
        status=status,
        body=body if route.service == "history" else None,
        why=why,
    )


def _ascii(text: str) -> str:
    """``text`` for an HTTP header (ASCII only)."""
    text = text.replace("…", "...").replace("§", "section ").replace("µ", "u")
    return text.encode("ascii", "replace").decode("ascii")


class SimExchange:
    """A Kraken Futures exchange in this process.

    Parameters
    ----------
    seed : int, optional
        Seed of the synthetic market and of every id; default
        ``KFRESEARCH_SIM_SEED`` or 42.
    clock : SimClock, optional
        Default :meth:`SimClock.from_env` (``KFRESEARCH_SIM_NOW``).
    strict_auth : bool
        Reject the legacy (URL-decoded postData) signature form.
    market, engine : optional
        Replace the synthetic market or the engine (the demo environment
        plugs the live market in here).
    rate_clock : callable
        Monotonic seconds for the rate-limit pools (real time by default, so
        the pools refill while a fixed simulation clock stands still).
    latency : str, timedelta or float
        The network's round trip: every HTTP answer is handed back this much
        later (``"50ms"``, a timedelta, or seconds as a number; default 0).
        The exchange processes the request at once and the wait happens
        outside its lock, so concurrent requests wait side by side, as on a
        real network. Settable later (``ex.latency = 0.05``, in seconds).
        ``kfresearch sim serve --latency 50ms`` sets it for a served exchange.

    Example
    -------
    >>> ex = SimExchange(seed=7, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    >>> ex.handle("GET", "/derivatives/api/v3/tickers/PF_XBTUSD", {}, b"").status
    200
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        clock: SimClock | None = None,
        strict_auth: bool = False,
        market: Any = None,
        engine: Any = None,
        routes: Iterable[Route] | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
        latency: str | timedelta | float = 0.0,
    ) -> None:
        self.seed = int(seed if seed is not None else os.environ.get("KFRESEARCH_SIM_SEED", "42"))
        self.clock = clock or SimClock.from_env()
        self.strict_auth = strict_auth
        self.routes = by_specificity(ROUTES if routes is None else routes)
        if market is None:
            from kfresearch.sim.market import SyntheticMarket

            market = SyntheticMarket(self.seed)
        self.market = market
        if engine is None:
            from kfresearch.sim.engine import Engine

            engine = Engine(market, seed=self.seed)
        self.engine = engine
        self.keys: dict[str, SimKey] = {k.credentials.key: k for k in provisioned_keys().values()}
        self.faults = faults or Faults(seed=self.seed)
        self.notifications = Notifications()
        self._rate_clock = rate_clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._nonces: dict[str, _NonceBook] = {}
        self._matched: dict[tuple[str, str], tuple[Route, dict[str, str]] | tuple[()]] = {}
        self._lock = threading.RLock()
        self._uws: UwsService | None = None
        self.requests_seen = 0
        #: Every request answered (and WebSocket message received), newest last, with
        #: the error and the simulator's explanation of it (:mod:`kfresearch.sim.diagnosis`).
        self.request_log: deque[LoggedRequest] = deque(maxlen=LOG_SIZE)
        self._logged = 0
        self.latency = _seconds(latency)

    # -- public helpers -------------------------------------------------------------
    def credentials(self, name: str = "full") -> Credentials:
        """The provisioned ``"full"`` or ``"read_only"`` key pair."""
        for key in self.keys.values():
            if key.name == name:
                return key.credentials
        raise KeyError(f"no provisioned key {name!r}: use 'full' or 'read_only'")

    @property
    def uws(self) -> UwsService:
        """The Unified WebSocket side: Kraken keys, nonces and tokens (made on first use)."""
        with self._lock:
            if self._uws is None:
                from kfresearch.sim.uws.service import UwsService

                self._uws = UwsService(self.seed, self.clock)
            return self._uws

    def add_fault(self, fault: Fault) -> Fault:
        """Inject a fault (see :mod:`kfresearch.sim.faults`)."""
        return self.faults.add(fault)

    def run_locked(self, work: Callable[[], T]) -> T:
        """Run ``work`` while no request is being processed (the engine is not thread-safe)."""
        with self._lock:
            return work()

    def advance(self, duration: str | timedelta | int | float) -> int:
        """Move a fixed clock forward by ``duration`` and let the market and engine catch up.

        Parameters
        ----------
        duration : str, timedelta, or int
            ``"60s"``, ``"15m"``, ``"6h"``, ``"250ms"``, a ``timedelta``; or
            milliseconds as a number of at least 1,000 (``60_000``). A number
            below 1,000 other than 0 is refused: ``advance(60)`` reads as
            60 seconds to a person and 60 ms to the clock, so say ``"60s"``.

        Returns
        -------
        int
            The new time, epoch milliseconds.

        Examples
        --------
        >>> kf.sim.advance("1h")                                             # doctest: +SKIP
        1793509200000
        """
        now = self.clock.advance(_duration_ms(duration))
        with self._lock:
            self.engine.advance(now)
        return now

    # -- the request path -------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> SimResponse:
        """Answer one raw HTTP request."""
        path, _, query = target.partition("?")
        path = unquote(path)
        text = body.decode("utf-8", "replace")
        fault = self.faults.pick(path)
        if fault is not None and fault.kind not in {"drop_after", "latency"}:
            answer = self._fault_response(fault)
            with self._lock:
                self.log(method, target, text, answer.status or None, fault.kind, "fault",
                         f"an injected {fault.kind} fault")
            answer.delay = self.latency
            return answer
        with self._lock:
            self.requests_seen += 1
            answer, check, error = self._handle(
                method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body
            )
            self.log(method, target, text, answer.status, error.error if error else None,
                     check, error.why if error else None)
        if error is not None and error.why:
            answer.headers["x-sim-why"] = _ascii(error.why)
        answer.delay = self.latency
        if fault is not None and fault.kind == "latency":
            answer.delay += fault.seconds
        elif fault is not None:
            answer.drop = "after"
        return answer

    def log(
        self,
        method: str,
        target: str,
        body: str,
        status: int | None,
        error: str | None = None,
        check: str | None = None,
        why: str | None = None,
    ) -> LoggedRequest:
        """Add one entry to :attr:`request_log` (the WebSocket sessions log their messages)."""
        with self._lock:
            entry = LoggedRequest(self._logged, method, target, body, status, error, check, why)
            self._logged += 1
            self.request_log.append(entry)
            return entry

    def _fault_response(self, fault: Fault) -> SimResponse:
        if fault.kind == "status":
            return _json(fault.status, {"result": "error", "error": "Server Error"})
        if fault.kind == "rate_limit":
            return SimResponse(
                429,
                b"Too Many Requests",
                {"content-type": "text/plain", "rate-limit-reset": f"{fault.seconds:g}"},
            )
        if fault.kind == "malformed":
            return SimResponse(200, b"<html>maintenance</html>", {"content-type": "text/html"})
        return SimResponse(0, b"", drop="before")

    def route_for(self, method: str, path: str) -> Route | None:
        """The route that serves ``method path`` (None when the exchange has no such path).

        >>> SimExchange(seed=1).route_for("GET", "/derivatives/api/v3/tickers").pattern
        '/derivatives/api/v3/tickers'
        """
        found = self._match(method.upper(), path)
        return found[0] if found else None

    def _handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[SimResponse, str | None, SimError | None]:
        """The answer, and for a refusal the step that refused (``"path"``, a step of
        :data:`CHECKS` or ``"handler"``) and its error."""
        if path.startswith("/0/"):  # Spot REST: its own errors, in its body
            return SimResponse(*self.uws.handle_rest(method, path, headers, body)), None, None
        now = self.clock.now_ms()
        found = self._match(method, path)
        if found is None:
            allowed = any(r.regex.match(path) for r in self.routes)
            status = 405 if allowed else 404
            error = SimError("notFound", status, why=path_why(method, path, self.routes))
            body_ = {"result": "error", "error": "notFound", "serverTime": iso(now)}
            return _json(status, body_), "path", error
        route, path_params = found
        step = CHECKS[0]
        try:
            params = self._params(query, body)
            ctx = Context(self, method, path, params, path_params, now)
            request = _Request(route, ctx, path, query, headers, body)
            for step in CHECKS:
                getattr(self, f"_check_{step}")(request)
            step = "handler"
            if request.key is not None:
                ctx.account_id = request.key.account_id
                ctx.key_can_trade = request.key.can_trade
            self.engine.advance(now)
            payload = route.handler(ctx)
        except SimError as error:
            return self._error(route, error, now), step, error
        return self._success(route, payload, now), None, None

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        # the routes never change: a path asked again (every order's) is looked up once
        known = self._matched.get((method, path))
        if known is None:
            known = self._matched[(method, path)] = self._scan(method, path)
            if len(self._matched) > _MATCHED_SIZE:
                self._matched.clear()  # paths with ids in them: keep it small
        return (known[0], dict(known[1])) if known else None

    def _scan(self, method: str, path: str) -> tuple[Route, dict[str, str]] | tuple[()]:
        for candidate in self.routes:
            if candidate.method == method:
                found = candidate.regex.match(path)
                if found:
                    return candidate, found.groupdict()
        return ()

    @staticmethod
    def _params(query: str, body: bytes) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for text in (query, body.decode("utf-8", "replace")):
            if not text:
                continue
            for name, values in parse_qs(text, keep_blank_values=True).items():
                params.setdefault(name, []).extend(values)
        return params

    # -- the checks, in the exchange's order (CHECKS) ------------------------------------
    @staticmethod
    def _check_arguments(request: _Request) -> None:
        missing = request.route.missing(request.ctx)
        if missing is not None:
            names = " or ".join(repr(name) for name in (
                (missing,) if isinstance(missing, str) else missing))
            raise SimError("requiredArgumentMissing", why=f"the argument {names} is missing")

    def _check_authentication(self, request: _Request) -> None:
        route, headers = request.route, request.headers
        if not route.private:
            return
        key = self.keys.get(headers.get("apikey", ""))
        authent = headers.get("authent", "")
        nonce = headers.get("nonce", "")
        body = request.body.decode("utf-8", "replace")
        post_data = request.query + body
        secret = key.credentials.secret if key is not None else None
        signed = False
        if secret is not None and authent:
            path = request.path
            signed = hmac.compare_digest(authent, rest_signature(secret, post_data, nonce, path))
            if not signed and not self.strict_auth:
                # before 2024-02-20 clients hashed the URL-decoded parameters (reference §2.4)
                legacy = unquote_plus(request.query) + unquote_plus(body)
                signed = hmac.compare_digest(authent, rest_signature(secret, legacy, nonce, path))
        if key is None or not signed:
            raise _denied(route, auth_why(headers, secret, post_data, nonce, request.path))
        if nonce:
            if not nonce.isdigit():
                raise SimError("invalidArgument", why=nonce_why("invalidArgument", nonce, None, 0))
            book = self._nonces.setdefault(key.credentials.key, _NonceBook())
            problem = book.check(int(nonce))
            if problem:
                oldest = book.recent[0] if book.recent else None
                raise SimError(problem, why=nonce_why(problem, nonce, oldest, _NONCE_WINDOW))
        request.key = key

    @staticmethod
    def _check_permissions(request: _Request) -> None:
        key, permission = request.key, request.route.permission
        if key is None:
            return
        # provisioned keys are read-only or full access; none may withdraw
        if permission == "withdraw":
            raise _denied(request.route, "withdrawals need a withdrawal key (reference §2.1)")
        if permission == "trade" and not key.can_trade:
            raise _denied(request.route, "this key is read-only: it cannot change the account")

    def _check_rate_limit(self, request: _Request) -> None:
        route, key = request.route, request.key
        if key is None or route.service not in {"history", "derivatives"}:
            return
        pool = "history" if route.service == "history" else "derivatives"
        cost = route.cost_of(request.ctx)
        bucket = self._buckets.get((key.credentials.key, pool))
        if bucket is None:
            capacity, rate = POOLS[pool]
            bucket = TokenBucket(capacity, rate, clock=self._rate_clock)
            self._buckets[(key.credentials.key, pool)] = bucket
        if cost <= 0:
            return
        if bucket.available + 1e-6 < cost:  # float dust is not a spent budget
            why = rate_why(pool, bucket.available, bucket.capacity, bucket.per_second, cost)
            if pool == "history":
                reset = (cost - bucket.available) / bucket.per_second
                raise SimError(
                    "apiLimitExceeded",
                    status=429,
                    body=SimResponse(
                        429,
                        b"Too Many Requests",
                        {"content-type": "text/plain", "rate-limit-reset": f"{reset:.0f}"},
                    ),
                    why=why,
                )
            raise SimError("apiLimitExceeded", why=why)
        bucket.reserve(cost)

    def _error(self, route: Route, error: SimError, now: int) -> SimResponse:
        if isinstance(error.body, SimResponse):
            return error.body
        if error.body is not None:
            return _json(error.status, error.body)
        if route.service == "derivatives":
            return _json(
                error.status, {"result": "error", "serverTime": iso(now), "error": error.error}
            )
        if route.service == "charts":
            return _json(
                error.status if error.status != 200 else 400,
                {
                    "result": "error",
                    "errors": [
                        {
                            "severity": "ERROR",
                            "error_class": "validation",
                            "type": error.error,
                            "msg": error.error,
                        }
                    ],
                },
            )
        return _json(error.status if error.status != 200 else 400, {"error": error.error})

    @staticmethod
    def _success(route: Route, payload: Any, now: int) -> SimResponse:
        answer = payload if isinstance(payload, Answer) else Answer(payload)
        body = answer.payload
        if isinstance(body, bytes):
            content = body
        elif route.service == "derivatives" and isinstance(body, dict):
            content = orjson.dumps({"result": "success", **body, "serverTime": iso(now)})
        else:
            content = orjson.dumps(body)
        headers = {"content-type": answer.content_type, **answer.headers}
        return SimResponse(answer.status, content, headers)

    def __repr__(self) -> str:
        return (
            f"SimExchange(seed={self.seed}, clock={self.clock!r}, strict_auth={self.strict_auth})"
        )


def _seconds(latency: Any) -> float:
    """``latency`` (see :class:`SimExchange`) in seconds."""
    if isinstance(latency, int | float) and not isinstance(latency, bool):
        if latency < 0:
            raise ValidationError("latency", latency, "latency must not be negative")
        return float(latency)
    try:
        return float(to_timedelta(latency).total_seconds())
    except ValueError as exc:
        raise ValidationError("latency", latency, str(exc)) from None


def _duration_ms(duration: Any) -> int:
    """``duration`` (see :meth:`SimExchange.advance`) in whole milliseconds."""
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        if duration < 0 or 0 < duration < 1000:
            raise ValidationError(
                "duration",
                duration,
                f"advance({duration!r}) is ambiguous or negative: give a duration such as "
                f"'{duration:g}s' or '{duration:g}ms', or milliseconds of at least 1,000",
            )
        return int(duration)
    try:
        return int(to_timedelta(duration).value // 1_000_000)
    except ValueError as exc:
        raise ValidationError("duration", duration, str(exc)) from None
