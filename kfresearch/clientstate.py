"""What both clients hold and decide without I/O: environment, keys, the protocol, the
transport core, the instruments cache, client order ids and the live gate.

:class:`ClientState` is the base of :class:`~kfresearch.Client` and
:class:`~kfresearch.AsyncClient` (through the classes that declare their
methods, :mod:`kfresearch.client` and :mod:`kfresearch.trading`). Its
``__init__`` is the one both clients take; they only add the HTTP connection
pool (:meth:`_open`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from kfresearch.credentials import Secret, as_secret, load_credentials, mask
from kfresearch.endpoints import (
    INSTRUMENTS,
    TICKER,
    TICKERS,
    WEBSOCKETS_TOKEN,
    Endpoint,
    find_endpoint,
)
from kfresearch.environments import Environment, build_exchange, resolve_environment
from kfresearch.errors import (
    ConfigurationError,
    KFError,
    SunsetWarning,
    UnsupportedCallError,
    ValidationError,
)
from kfresearch.protocols import Protocol, choose, today
from kfresearch.ratelimit import RateLimiter, shared_limiter
from kfresearch.transport import Core, RetryPolicy, run_sync

if TYPE_CHECKING:
    from kfresearch.plans import Call
    from kfresearch.stream import Stream
    from kfresearch.trace import Trace
    from kfresearch.uws.adapter import UwsAdapter
    from kfresearch.uws.routes import Route
    from kfresearch.uws.tokens import TokenSource

__all__ = [
    "ALLOW_LIVE_VAR",
    "DEFAULT_TIMEOUT",
    "INSTRUMENTS_FRESH_FOR",
    "MARKS_FRESH_FOR",
    "ClientState",
]

ALLOW_LIVE_VAR = "KFRESEARCH_ALLOW_LIVE_TRADING"
DEFAULT_TIMEOUT = 10.0
INSTRUMENTS_FRESH_FOR = 60.0
"""Seconds a client reuses the instruments it read (symbols, ticks, size steps) before
reading them again: order checks and symbol lookups cost no request within that time."""
MARKS_FRESH_FOR = 2.0
"""Seconds of the exchange's clock a client reuses a mark price it read (from any tickers
or ticker answer) for the price collar of a limit order: orders placed together cost one
ticker read, not one each. A mark moves far less than the collar's margin in that time,
and the exchange checks the collar again itself. In-process ``sim`` counts on its own
clock: a fixed clock keeps the marks until it is advanced (the market stands still too)."""

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _warn_user(message: str) -> None:
    """A :class:`SunsetWarning` pointing at the first line of user code on the stack (the
    plans in between vary in depth)."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(SunsetWarning(message), stacklevel=level)


class ClientState:
    """Configuration and state shared by both clients (no I/O).

    Parameters
    ----------
    env : {"demo", "sim", "live"} or Environment, optional
        Default ``KFRESEARCH_ENV`` or ``"demo"`` (paper trading).
    key : str, optional
        API public key. Default ``KFRESEARCH_API_KEY`` or ``./.env`` (live
        only: sim and demo provision their own keys).
    secret : str, bytes or Secret, optional
        API secret (base64 text). Default ``KFRESEARCH_API_SECRET`` or
        ``./.env``. Held masked at once: it never appears in a repr, a log
        line or a traceback.
    base_url : str, optional
        A server that speaks the API, e.g. ``kfresearch sim serve``'s
        ``"http://127.0.0.1:8765"``.
    allow_trading : bool, optional
        The second opt-in that account-changing calls on ``live`` need
        (default: ``KFRESEARCH_ALLOW_LIVE_TRADING=1``).
    timeout : float
        Seconds for every request (connect, read, write).
    retry : RetryPolicy, optional
        How often and how long to retry safe requests.
    limiter : RateLimiter, optional
        The rate-limit pools (default: shared by every client of this key).
    exchange : optional
        An exchange to share, for the environments kfresearch builds: another
        client's ``kf.sim`` (default: ``sim`` builds a fresh one for each
        client, ``demo`` has one per process). See
        :mod:`kfresearch.environments`.
    transport : httpx.BaseTransport (Client) or httpx.AsyncBaseTransport (AsyncClient), optional
        Replaces the environment's transport (tests, recording).
    protocol : {"v3", "uws"}, optional
        The wire protocol: the Derivatives REST API (``v3``) or the Unified
        WebSocket (``uws``). Default ``KFRESEARCH_PROTOCOL``, else by the
        environment's date: ``v3`` before 2027-03-01 (warning from
        2027-01-01), ``uws`` from then on (:mod:`kfresearch.protocols`).
    uws_key, uws_secret : str, optional
        The Kraken (spot-style) key pair the Unified WebSocket needs. Default
        ``KFRESEARCH_UWS_API_KEY`` / ``KFRESEARCH_UWS_API_SECRET`` or ``./.env``
        (live only: sim and demo provision their own).
    account : str, optional
        ``demo`` only: the named paper account to trade (default ``"default"``),
        kept in ``<data dir>/paper/<account>.sqlite`` (see :mod:`kfresearch.sim.paper`).
    balance : float, optional
        ``demo`` only: USD a new paper account starts with (default 100,000);
        an existing account keeps its own (``kf.paper.reset(balance=...)``).
    """

    def __init__(
        self,
        env: str | Environment | None = None,
        *,
        key: str | None = None,
        secret: str | bytes | Secret | None = None,
        base_url: str | None = None,
        allow_trading: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        exchange: Any = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        protocol: str | None = None,
        uws_key: str | None = None,
        uws_secret: str | bytes | Secret | None = None,
        account: str | None = None,
        balance: float | None = None,
    ) -> None:
        secret = as_secret(secret)  # first: no frame keeps the secret in clear
        uws_secret = as_secret(uws_secret)
        self.env = resolve_environment(env, base_url=base_url)
        if (account is not None or balance is not None) and self.env.name != "demo":
            raise ValidationError(
                "account" if account is not None else "balance",
                account if account is not None else balance,
                f"account= and balance= choose a paper account of env 'demo'; env "
                f"{self.env.name!r} has none: use kfresearch.connect('demo', account=...)",
            )
        parts = build_exchange(self.env, exchange, {"account": account, "balance": balance})
        self._exchange: Any = parts.exchange if parts is not None else None
        self._random_bits: Callable[[int], int] | None = (
            parts.random_bits if parts is not None else None
        )
        self._protocol, sunset = choose(protocol, self.env.name, today(self.env, self._exchange))
        if sunset is not None:
            _warn_user(sunset)
        credentials = load_credentials(key, secret, use_environment=not self.env.provisions_keys)
        if credentials is None and self.env.provisions_keys and parts is not None:
            credentials = parts.credentials
        spot = load_credentials(
            uws_key, uws_secret, use_environment=not self.env.provisions_keys, kind="spot"
        )
        if spot is None and self.env.provisions_keys and parts is not None:
            spot = parts.spot_credentials
        if allow_trading is None:
            allow_trading = os.environ.get(ALLOW_LIVE_VAR, "") == "1"
        self.timeout = timeout
        self._core = Core(
            self.env,
            credentials,
            limiter=limiter
            or (
                shared_limiter(self.env.base_url, credentials.key) if credentials else RateLimiter()
            ),
            retry=retry or RetryPolicy(),
            allow_trading=allow_trading,
            spot_credentials=spot,
        )
        self._instruments: Any = None
        self._instruments_read_at = -float("inf")
        self._marks: dict[str, tuple[float, int]] = {}  # symbol -> (mark, exchange ms)
        if transport is None and parts is not None:
            transport = parts.transport
        self._transport = transport
        self._tokens: TokenSource | None = None
        self._token_http: httpx.Client | None = None
        self._uws_adapter: UwsAdapter | None = None
        self._warned: set[str] = set()
        self._open(transport)

    def _open(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> None:
        """Open the connection pool (the blocking or the async one)."""
        raise NotImplementedError

    @property
    def protocol(self) -> Protocol:
        """``"v3"`` (the Derivatives REST API) or ``"uws"`` (the Unified WebSocket)."""
        return self._protocol

    # -- the Unified WebSocket --------------------------------------------------------
    def _token_source(self) -> TokenSource | None:
        """The UWS token source (None without a Kraken spot-style key)."""
        if self._core.spot_credentials is None:
            return None
        if self._tokens is None:
            from kfresearch.uws.tokens import TokenSource

            self._tokens = TokenSource(self._fetch_token)
        return self._tokens

    def _fetch_token(self) -> Any:
        """``GetWebSocketsToken`` through the transport core (blocking; any thread)."""
        if self._token_http is None:
            transport = self._transport
            if transport is not None and not isinstance(transport, httpx.BaseTransport):
                raise ValidationError(
                    "transport",
                    transport,
                    "the Unified WebSocket's token is fetched by a blocking request: give a "
                    "transport that is also an httpx.BaseTransport (as httpx.MockTransport is)",
                )
            self._token_http = httpx.Client(timeout=self.timeout, transport=transport)
        step = self._core.exchange(WEBSOCKETS_TOKEN)
        return run_sync(step, self._token_http, time.sleep)

    def _uws(self) -> UwsAdapter:
        """The UWS adapter of this client (made on first use)."""
        if self._uws_adapter is None:
            from kfresearch.uws.adapter import UwsAdapter

            tokens = self._token_source()
            self._uws_adapter = UwsAdapter(
                self.env,
                self._connector(),
                token=tokens.aget if tokens is not None else None,
                invalidate_token=tokens.invalidate if tokens is not None else None,
                timeout=self.timeout,
            )
        return self._uws_adapter

    def _connector(self) -> Any:
        """How WebSockets are opened: in-process for ``sim``/``demo``, else the network."""
        if self._exchange is not None:
            from kfresearch.stream.inprocess import InProcessConnector

            return InProcessConnector(self._exchange)
        from kfresearch.stream.connection import WebsocketsConnector

        return WebsocketsConnector()

    def _uws_route(self, call: Call) -> Route | None:
        """On UWS, the way ``call`` goes (None: as on v3). Raises for a call UWS cannot serve;
        warns once per API family whose future is not stated."""
        if self._protocol != "uws":
            return None
        from kfresearch.uws.routes import route_of

        route = route_of(call.endpoint)
        if route.kind == "none":
            raise UnsupportedCallError(route.note)
        if route.kind == "uws":
            self._core.check_allowed(call.endpoint, via_uws=True)
        elif route.family and route.family not in self._warned:
            self._warned.add(route.family)
            _warn_user(route.note)
        return route

    def _close_uws(self) -> None:
        if self._token_http is not None:
            self._token_http.close()

    @property
    def paper(self) -> Any:
        """The paper account of this demo client (:class:`kfresearch.sim.paper.PaperAccount`).

        ``kf.paper.reset(balance=25_000)`` starts it again, empty;
        ``kf.paper.path`` is its SQLite file.

        Raises
        ------
        ConfigurationError
            On any environment but the in-process ``demo``.
        """
        account = getattr(self._exchange, "paper", None)
        if account is None:
            raise ConfigurationError(
                f"kf.paper is the paper account of env 'demo'; this client is on "
                f"{self.env.name!r}: use kfresearch.connect('demo', account=...)"
            )
        return account

    @property
    def sim(self) -> Any:
        """The in-process exchange (``sim``/``demo``): a
        :class:`~kfresearch.sim.exchange.SimExchange`, its clock, faults, keys."""
        if self._exchange is None:
            raise AttributeError(f"env {self.env.name!r} at {self.env.base_url} is not in-process")
        return self._exchange

    def stream(
        self,
        *,
        heartbeat: bool = True,
        keepalive: float = 30.0,
        stale_after: float | None = 60.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        timeout: float = 10.0,
        trades_maxlen: int = 10_000,
        history_maxlen: int = 10_000,
    ) -> Stream:
        """Live data over the WebSocket: ``s = kf.stream(); s.subscribe("book", ["PF_XBTUSD"])``.

        The same for both clients: the stream uses the client's environment
        and keys (``sim``/``demo`` are served in-process, with no socket).
        Its waiting calls block in a script and are awaited in a notebook or
        async code (see :mod:`kfresearch.stream`).

        Parameters
        ----------
        heartbeat : bool
            Subscribe the exchange's heartbeat feed (its clock in ``stats()``).
        keepalive : float
            Seconds between WebSocket pings (the exchange drops a connection
            silent for 60 s).
        stale_after : float or None
            Reconnect when no message at all came for this many seconds.
        backoff : (float, float)
            First and largest wait (s) between reconnection attempts.
        timeout : float
            Seconds a waiting call gives the exchange to answer.
        trades_maxlen, history_maxlen : int
            Rolling window of trades per symbol, and of fills and account-log
            entries.

        Examples
        --------
        >>> s = kf.stream()                                                  # doctest: +SKIP
        >>> await s.subscribe("book", ["PF_XBTUSD"])                         # doctest: +SKIP
        <Subscription book PF_XBTUSD: live>
        >>> s.book("PF_XBTUSD").frame().equals(                              # doctest: +SKIP
        ...     kf.orderbook("PF_XBTUSD", depth=25))
        True
        """
        from kfresearch.stream import Stream

        if self._protocol == "uws":
            from kfresearch.stream.uws import KrakenUWS

            tokens = self._token_source()
            return Stream(
                self.env, credentials=self._core.spot_credentials, sim=self._exchange,
                heartbeat=heartbeat, keepalive=keepalive, stale_after=stale_after,
                backoff=backoff, timeout=timeout, trades_maxlen=trades_maxlen,
                history_maxlen=history_maxlen,
                protocol=KrakenUWS(token=tokens.aget if tokens else None,
                                   invalidate_token=tokens.invalidate if tokens else None),
            )
        return Stream(
            self.env, credentials=self._core.credentials, sim=self._exchange, heartbeat=heartbeat,
            keepalive=keepalive, stale_after=stale_after, backoff=backoff, timeout=timeout,
            trades_maxlen=trades_maxlen, history_maxlen=history_maxlen,
        )

    def trace(self) -> Trace:
        """Record what goes on the wire during a block: ``with kf.trace() as t: ...``.

        Every REST request (retries too) and WebSocket message that kfresearch
        sends or receives in this process while the block runs, from any
        client or stream: method, URL, query, body, headers (``APIKey``
        shortened; ``Nonce`` and the ``Authent`` signature shown; the secret
        is never on the wire), status, decoded answer, rate-limit cost with
        the pool's level before and after, and timings. See
        :class:`kfresearch.trace.Trace`.

        Examples
        --------
        >>> with kf.trace() as t:                                            # doctest: +SKIP
        ...     kf.accounts()
        >>> t[0]                    # the request and the answer, side by side  # doctest: +SKIP
        >>> print(t[0].curl())      # the same request from a shell             # doctest: +SKIP
        >>> t.frame()[["method", "path", "status", "cost", "pool_after"]]    # doctest: +SKIP
        """
        from kfresearch.trace import Trace

        return Trace()

    @property
    def has_credentials(self) -> bool:
        """True when the client has the key pair its protocol's private calls need (the
        Derivatives key on v3, the Kraken spot-style key on UWS)."""
        if self._protocol == "uws":
            return self._core.spot_credentials is not None
        return self._core.credentials is not None

    @property
    def allow_trading(self) -> bool:
        """True when account-changing calls may reach ``live`` (always allowed elsewhere)."""
        return self._core.allow_trading

    # -- decisions the declarations share (no I/O) ----------------------------------
    def _now_ms(self) -> int:
        """The exchange's "now": the simulated clock in-process, else the wall clock."""
        if self._exchange is not None:
            return int(self._exchange.clock.now_ms())
        return int(time.time() * 1000)

    def _instruments_body(self) -> Any:
        """The instruments read within :data:`INSTRUMENTS_FRESH_FOR` seconds, else None
        (the plans then read them)."""
        fresh = time.monotonic() - self._instruments_read_at < INSTRUMENTS_FRESH_FOR
        return self._instruments if fresh else None

    def _fresh_marks(self) -> dict[str, float]:
        """Mark prices by symbol read within :data:`MARKS_FRESH_FOR` seconds."""
        if not self._marks:
            return {}
        try:
            now = self._now_ms()
        except KFError:  # the exchange's clock cannot be read (demo's upstream is down):
            return {}  # the plan reads the ticker and meets the same error where it is handled
        fresh = MARKS_FRESH_FOR * 1000
        return {s: mark for s, (mark, at) in self._marks.items() if 0 <= now - at < fresh}

    def _seen(self, calls: list[Call], bodies: list[Any]) -> None:
        """Told every batch a plan received: keeps the instruments and the marks it read."""
        for call, body in zip(calls, bodies, strict=True):
            if call.endpoint is INSTRUMENTS:
                self._instruments = body
                self._instruments_read_at = time.monotonic()
            elif call.endpoint is TICKER and isinstance(body, dict):
                self._keep_marks([body.get("ticker")])
            elif call.endpoint is TICKERS and isinstance(body, dict):
                self._keep_marks(body.get("tickers"))

    def _keep_marks(self, tickers: Any) -> None:
        now = self._now_ms()
        for ticker in tickers if isinstance(tickers, list) else []:
            if not isinstance(ticker, dict):
                continue
            try:
                mark = float(ticker["markPrice"])
            except (KeyError, TypeError, ValueError):
                continue
            if mark > 0:
                self._marks[str(ticker.get("symbol", "")).upper()] = (mark, now)

    def _gate(self, endpoint: Endpoint) -> None:
        """The live gate, checked before an order plan sends anything (even its reads)."""
        self._core.check_allowed(endpoint, via_uws=self._protocol == "uws")

    def _new_client_order_id(self) -> str:
        """A fresh client order id: ``kfr-`` and 32 hex digits on v3, a UUID on UWS (whose
        client order ids are UUIDs, 32 hex digits or 18 characters, reference §6)."""
        from kfresearch.orders.rules import new_client_order_id
        from kfresearch.uws.orders import uuid_client_order_id

        source = self._random_bits
        if self._protocol == "uws":
            return uuid_client_order_id(source(128) if source else uuid.uuid4().int)
        return new_client_order_id(source)

    def _check_client_order_id(self, value: str | None, field: str = "client_order_id") -> None:
        """On UWS, a client order id the exchange would refuse is refused before sending."""
        if value is not None and self._protocol == "uws":
            from kfresearch.uws.orders import check_client_order_id

            check_client_order_id(value, field)

    def _endpoint(self, method: str, path: str, private: bool) -> Endpoint:
        """The table's rules for ``method path`` (cost, retry, gate), sent to ``path`` as given."""
        endpoint = find_endpoint(method, path, private=private)
        # the escape hatch always returns decoded JSON
        return dataclasses.replace(
            endpoint, path=path, private=endpoint.private or private, raw=False
        )

    def __repr__(self) -> str:
        core: Core | None = getattr(self, "_core", None)
        if core is None:  # repr during a failed __init__ (verbose tracebacks call it)
            return f"<kfresearch.{type(self).__name__} (not initialised)>"
        key = mask(core.credentials.key) if core.credentials else "<none>"
        trading = ", allow_trading=True" if self.env.real_money and core.allow_trading else ""
        protocol = ""
        if getattr(self, "_protocol", "v3") == "uws":
            spot = mask(core.spot_credentials.key) if core.spot_credentials else "<none>"
            protocol = f" protocol='uws' uws_key={spot!r}"
        return (
            f"<kfresearch.{type(self).__name__} env={self.env.name!r} "
            f"base_url={self.env.base_url!r} key={key!r}{protocol}{trading}>"
        )
