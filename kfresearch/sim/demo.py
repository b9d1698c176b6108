"""The ``demo`` environment's exchange: live prices, paper money, an account that persists.

:class:`DemoExchange` is the simulator's exchange (the same checks, routes and
engine) with two things changed:

* the engine takes its prices from a :class:`~kfresearch.sim.live.LiveSource`
  (the live exchange's public data, or ``KFRESEARCH_DEMO_UPSTREAM``) and keeps
  the account in a :class:`~kfresearch.sim.paper.PaperAccount` (SQLite);
* public requests (tickers, books, trades, candles, instruments …) are
  forwarded to the upstream as they are, and its answers returned unchanged:
  market data in ``demo`` is the live exchange's own.

Its clock is the upstream's (the ``serverTime`` of the latest poll), so an
order's time and the prices it fills at agree. When the upstream cannot be
reached, every request is answered with the error ``upstreamUnavailable``
(the client raises :class:`~kfresearch.errors.MarketUnavailableError`, whose
hint suggests ``env="sim"``); no order is accepted and no synthetic price is
ever used instead.

Example
-------
>>> ex = demo_exchange("carry-study", balance=25_000)  # doctest: +SKIP
>>> kf = kfresearch.connect("demo", exchange=ex)            # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import unquote

import httpx
import orjson

from kfresearch.errors import ConfigurationError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.demo_feeds import DemoFeedSession
from kfresearch.sim.engine import Engine
from kfresearch.sim.exchange import SimExchange, SimResponse
from kfresearch.sim.formats import iso
from kfresearch.sim.live import LiveSource, UpstreamUnavailable, upstream_url
from kfresearch.sim.paper import DEFAULT_ACCOUNT, PaperAccount

__all__ = ["UNAVAILABLE", "DemoExchange", "UpstreamClock", "demo_exchange", "live_source"]

#: The error string of every answer given while the upstream cannot be reached.
UNAVAILABLE = "upstreamUnavailable"
_SOURCES: dict[str, LiveSource] = {}
_SOURCES_LOCK = threading.Lock()
_HOP_HEADERS = {"content-type", "rate-limit-reset", "retry-after"}


class UpstreamClock(SimClock):
    """The live exchange's time, as of the latest poll of its tickers; it cannot be moved."""

    def __init__(self, source: LiveSource) -> None:
        super().__init__("real")
        self.source = source

    def now_ms(self) -> int:
        return self.source.now_ms()

    def advance(self, ms: int | float) -> int:
        raise ConfigurationError(
            "demo runs on the live exchange's clock, which cannot be moved; "
            'use env="sim" to move time yourself'
        )

    def __repr__(self) -> str:
        return f"UpstreamClock({self.source.url!r})"


class DemoExchange(SimExchange):
    """The paper exchange on live prices (see the module docstring).

    Parameters
    ----------
    source : LiveSource
        Where prices come from (shared by every demo exchange of the upstream).
    account : PaperAccount
        The paper account it trades.
    rate_clock : callable
        Seconds for the exchange's rate-limit buckets (as for ``SimExchange``).
    """

    #: the session ``kf.stream()`` runs in-process: public feeds relay the upstream
    feed_session = DemoFeedSession

    def __init__(
        self,
        source: LiveSource,
        account: PaperAccount,
        *,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        engine = Engine(source, seed=0, ledger=account.ledger)
        super().__init__(
            clock=UpstreamClock(source), market=source, engine=engine, rate_clock=rate_clock
        )
        self.source = source
        self.paper = account

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> SimResponse:
        """Forward a public request to the upstream; serve a private one here."""
        route = self.route_for(method, unquote(target.partition("?")[0]))
        try:
            if route is not None and not route.private:
                return self._forward(method, target, body)
            return super().handle(method, target, headers, body)
        except UpstreamUnavailable as exc:
            payload = {"result": "error", "error": UNAVAILABLE, "message": str(exc)}
            payload["serverTime"] = iso(self.source.last_server_ms)
            return SimResponse(200, orjson.dumps(payload))

    def _forward(self, method: str, target: str, body: bytes) -> SimResponse:
        try:
            answer = self.source.http.request(method, self.source.url + target, content=body)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(self.source.url, f"{type(exc).__name__}: {exc}") from None
        if answer.status_code >= 500:
            raise UpstreamUnavailable(self.source.url, f"HTTP {answer.status_code}")
        headers = {k: v for k, v in answer.headers.items() if k.lower() in _HOP_HEADERS}
        return SimResponse(answer.status_code, answer.content, headers)

    def __repr__(self) -> str:
        return (
            f"DemoExchange({self.source.url!r}, account={self.paper.name!r}, "
            f"transport={self.source.transport!r})"
        )


def live_source(url: str | None = None, *, http: httpx.Client | None = None) -> LiveSource:
    """The process's live source for ``url`` (default :func:`~kfresearch.sim.live.upstream_url`).

    One per upstream, so every demo client of a process shares its polls.
    ``http`` is the client a new source polls through (tests: an in-process
    simulator's transport); an existing source keeps its own.
    """
    chosen = (url or upstream_url()).rstrip("/")
    with _SOURCES_LOCK:
        if chosen not in _SOURCES:
            _SOURCES[chosen] = LiveSource(chosen, http=http)
        return _SOURCES[chosen]


def demo_exchange(
    account: str = DEFAULT_ACCOUNT, *, balance: float | None = None, upstream: str | None = None
) -> DemoExchange:
    """A paper exchange on the paper account ``account`` (``balance``: USD if it is new).

    Raises
    ------
    ValidationError
        A bad account name or balance.
    """
    return DemoExchange(live_source(upstream), PaperAccount.open(account, balance=balance))
