"""What both clients hold and decide without I/O: environment, keys, the transport core,
the instruments cache, client order ids and the live gate.

:class:`ClientState` is the base of :class:`~kfresearch.Client` and
:class:`~kfresearch.AsyncClient` (through the classes that declare their
methods, :mod:`kfresearch.client` and :mod:`kfresearch.trading`). Its
``__init__`` is the one both clients take; they only add the HTTP connection
pool (:meth:`_open`).
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from kfresearch.credentials import Credentials, Secret, as_secret, load_credentials, mask
from kfresearch.endpoints import INSTRUMENTS, Endpoint, find_endpoint
from kfresearch.environments import Environment, resolve_environment
from kfresearch.ratelimit import RateLimiter, shared_limiter
from kfresearch.transport import Core, RetryPolicy

if TYPE_CHECKING:
    from kfresearch.plans import Call
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.stream import Stream

__all__ = ["ALLOW_LIVE_VAR", "DEFAULT_TIMEOUT", "INSTRUMENTS_FRESH_FOR", "ClientState"]

ALLOW_LIVE_VAR = "KFRESEARCH_ALLOW_LIVE_TRADING"
DEFAULT_TIMEOUT = 10.0
INSTRUMENTS_FRESH_FOR = 60.0
"""Seconds a client reuses the instruments it read (symbols, ticks, size steps) before
reading them again: order checks and symbol lookups cost no request within that time."""

# Reproducible client order ids for the seeded in-process simulator (so notebook
# outputs repeat); one id stream per exchange, shared by all its clients.
_ID_STREAMS: weakref.WeakKeyDictionary[Any, random.Random] = weakref.WeakKeyDictionary()
_ID_LOCK = threading.Lock()


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
    sim : SimExchange, optional
        The in-process exchange for ``sim``/``demo`` (default: one per environment).
    transport : httpx transport, optional
        Replaces the network (tests, recording).
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
        sim: SimExchange | None = None,
        transport: Any = None,
    ) -> None:
        secret = as_secret(secret)  # first: no frame keeps the secret in clear
        self.env = resolve_environment(env, base_url=base_url)
        self._sim: SimExchange | None = None
        if self.env.in_process:
            from kfresearch.sim.exchange import default_exchange

            self._sim = sim or default_exchange(self.env.name)
        credentials = load_credentials(key, secret, use_environment=not self.env.provisions_keys)
        if credentials is None and self.env.provisions_keys:
            credentials = self._provisioned()
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
        )
        self._instruments: Any = None
        self._instruments_read_at = -float("inf")
        if transport is None and self._sim is not None:
            from kfresearch.sim.transport import SimTransport

            transport = SimTransport(self._sim)
        self._open(transport)

    def _open(self, transport: Any) -> None:
        """Open the connection pool (the blocking or the async one)."""
        raise NotImplementedError

    def _provisioned(self) -> Credentials | None:
        if self._sim is not None:
            return self._sim.credentials("full")
        from kfresearch.sim.keys import provisioned_keys

        # a served simulator (env='sim', base_url=...) uses the same provisioned keys
        return provisioned_keys()["full"].credentials

    @property
    def sim(self) -> SimExchange:
        """The in-process simulated exchange (``sim``/``demo``): its clock, faults, keys."""
        if self._sim is None:
            raise AttributeError(f"env {self.env.name!r} at {self.env.base_url} is not in-process")
        return self._sim

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

        return Stream(
            self.env, credentials=self._core.credentials, sim=self._sim, heartbeat=heartbeat,
            keepalive=keepalive, stale_after=stale_after, backoff=backoff, timeout=timeout,
            trades_maxlen=trades_maxlen, history_maxlen=history_maxlen,
        )

    @property
    def has_credentials(self) -> bool:
        """True when the client has a key pair (private calls can be made)."""
        return self._core.credentials is not None

    @property
    def allow_trading(self) -> bool:
        """True when account-changing calls may reach ``live`` (always allowed elsewhere)."""
        return self._core.allow_trading

    # -- decisions the declarations share (no I/O) ----------------------------------
    def _now_ms(self) -> int:
        """The exchange's "now": the simulated clock in-process, else the wall clock."""
        return self._sim.clock.now_ms() if self._sim is not None else int(time.time() * 1000)

    def _instruments_body(self) -> Any:
        """The instruments read within :data:`INSTRUMENTS_FRESH_FOR` seconds, else None
        (the plans then read them)."""
        fresh = time.monotonic() - self._instruments_read_at < INSTRUMENTS_FRESH_FOR
        return self._instruments if fresh else None

    def _seen(self, calls: list[Call], bodies: list[Any]) -> None:
        """Told every batch a plan received: keeps the instruments it read."""
        for call, body in zip(calls, bodies, strict=True):
            if call.endpoint is INSTRUMENTS:
                self._instruments = body
                self._instruments_read_at = time.monotonic()

    def _gate(self, endpoint: Endpoint) -> None:
        """The live gate, checked before an order plan sends anything (even its reads)."""
        self._core.check_allowed(endpoint)

    def _new_client_order_id(self) -> str:
        from kfresearch.orders.rules import new_client_order_id

        sim = self._sim
        if sim is None or self.env.name != "sim":
            return new_client_order_id()
        with _ID_LOCK:
            stream = _ID_STREAMS.get(sim)
            if stream is None:
                stream = random.Random(f"kfresearch-client-order-ids-{sim.seed}")  # noqa: S311
                _ID_STREAMS[sim] = stream
            return new_client_order_id(stream.getrandbits)

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
        return (
            f"<kfresearch.{type(self).__name__} env={self.env.name!r} "
            f"base_url={self.env.base_url!r} key={key!r}{trading}>"
        )
