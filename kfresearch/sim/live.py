"""The live market source: the ``demo`` environment's prices, from the live exchange.

:class:`LiveSource` answers the engine's questions (:mod:`kfresearch.sim.source`)
from the live exchange's public data, for the symbols the paper account trades.

**WebSocket first.** The tickers, trades and book of each contract the engine
asks about come from the upstream's public WebSocket v1 feeds (``ticker``,
``trade``, ``book``) through the streaming client
(:class:`~kfresearch.sim.live_feed.LiveFeed`, :mod:`kfresearch.stream`); the
clock is the latest time those messages carry. REST gives the first snapshot
(tickers of every contract, the instruments), the backfill of trades when a
contract is first watched, and everything while the socket is down.
:attr:`LiveSource.transport` says which is in use (``"websocket"`` or
``"rest"``); when the socket cannot be opened the source logs a warning
(logger ``kfresearch.demo``) and polls REST. It never falls back to
synthetic prices. ``feed="rest"`` polls REST only.

**REST polling** asks each endpoint at most once per ``poll_s`` seconds
(1 s; the reference gives public endpoints no cost, so this is our own
restraint):

==============================  ============================================================
the engine asks                 answered from
==============================  ============================================================
the time                        ``serverTime`` of the latest tickers poll (the paper
                                exchange's clock is the live exchange's)
contracts                       ``GET /instruments`` (kept for an hour)
mark, index, last               ``GET /tickers``: each poll is an observation; a time is
                                answered by the latest observation at or before it
the book (market orders walk    ``GET /orderbook?symbol=``, fetched again when older
its levels)                     than ``poll_s`` when an order arrives
trades, and the ``last`` range  ``GET /history?symbol=`` (newest 100 trades, paged back
(resting fills)                 with ``lastTime`` until the tape joins up)
mark and index ranges (stops)   the tickers observations in the range
funding of an hour              the ``fundingRate`` (absolute, reference §7.5) of the first
                                tickers poll within that hour; an hour never observed
                                (the kernel was off): ``GET /v4/historicalfundingrates``
==============================  ============================================================

Resting limit orders are judged with a queue (:attr:`LiveSource.models_queue`):
an order takes its place behind the size the book showed at its price when it
rested, and fills only on a trade strictly through its price, or on volume
traded at its price beyond its place (see :mod:`kfresearch.sim.lifecycle`).

``KFRESEARCH_DEMO_UPSTREAM`` (``http://127.0.0.1:8765``) points the source at
any server that speaks the public API, e.g. ``kfresearch sim serve``. When the
upstream cannot be reached, every question raises :class:`UpstreamUnavailable`
(never a synthetic price). Times are epoch milliseconds, prices USD, sizes in
contracts.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
import numpy as np

from kfresearch.errors import NetworkError
from kfresearch.sim.clock import parse_time_ms
from kfresearch.sim.instruments import InstrumentSpec, MarginTier
from kfresearch.sim.margin import HOUR_MS
from kfresearch.sim.market.tape import Stats24h
from kfresearch.sim.source import CASH, Level, Signal, Trades

if TYPE_CHECKING:
    from kfresearch.sim.live_feed import LiveFeed
    from kfresearch.stream.connection import Connector

__all__ = ["LIVE_URL", "UPSTREAM_VAR", "LiveSource", "UpstreamUnavailable", "upstream_url"]

#: The live exchange: the default upstream of ``demo``.
LIVE_URL = "https://futures.kraken.com"
#: Environment variable that points ``demo`` at another server speaking the public API.
UPSTREAM_VAR = "KFRESEARCH_DEMO_UPSTREAM"
_V3 = "/derivatives/api/v3"
_INSTRUMENTS_TTL_S = 3600.0
_PAGES_BACK = 10  # at most 1,000 trades fetched to join the tape up after a pause
log = logging.getLogger("kfresearch.demo")
FeedChoice = Literal["auto", "rest"]
# /tickers names -> WebSocket v1 ticker names (a REST row relayed on demo's own feed)
_V1_TICKER = {
    "symbol": "product_id",
    "indexPrice": "index",
    "bidSize": "bid_size",
    "askSize": "ask_size",
    "vol24h": "volume",
    "change24h": "change",
    "fundingRate": "funding_rate",
    "fundingRatePrediction": "funding_rate_prediction",
    "postOnly": "post_only",
    "nextFundingRateTime": "next_funding_rate_time",
}


def upstream_url() -> str:
    """Where ``demo`` takes its prices: ``KFRESEARCH_DEMO_UPSTREAM``, else the live exchange."""
    return (os.environ.get(UPSTREAM_VAR) or LIVE_URL).rstrip("/")


class UpstreamUnavailable(NetworkError):
    """The live exchange (``demo``'s upstream) could not be reached or answered an error."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"demo takes its prices from the live exchange at {url}, which cannot be reached "
            f"({reason}). Nothing was sent and no order was accepted. Check the connection "
            f"and try again, or work offline with env=\"sim\" (synthetic prices)",
            endpoint=url,
        )
        self.url = url
        self.reason = reason


@dataclass
class _Tape:
    """The public trades of one contract seen so far, oldest first."""

    time_ms: list[int] = field(default_factory=list)
    rows: list[tuple[int, float, float, bool, int]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    uids: dict[int, str] = field(default_factory=dict)
    polled_at: float = float("-inf")

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in sorted(rows, key=lambda r: str(r.get("time", ""))):
            key = str(row.get("uid") or row.get("trade_id") or row)
            if key in self.seen:
                continue
            self.seen.add(key)
            if row.get("uid") and row.get("trade_id") is not None:
                self.uids[int(row["trade_id"])] = str(row["uid"])
            t = parse_time_ms(str(row["time"]))
            at = bisect.bisect_right(self.time_ms, t)
            self.time_ms.insert(at, t)
            self.rows.insert(
                at,
                (
                    t,
                    float(row["price"]),
                    float(row.get("size") or 0.0),
                    str(row.get("side", "buy")) == "buy",
                    int(row.get("trade_id") or 0),
                ),
            )

    def between(self, start_ms: int, end_ms: int) -> list[tuple[int, float, float, bool, int]]:
        """Trades with ``start_ms <= time < end_ms``."""
        lo = bisect.bisect_left(self.time_ms, start_ms)
        hi = bisect.bisect_left(self.time_ms, end_ms)
        return self.rows[lo:hi]


@dataclass
class _Observations:
    """Mark, index and last of one contract at each tickers poll, oldest first."""

    time_ms: list[int] = field(default_factory=list)
    values: list[dict[str, float]] = field(default_factory=list)

    def add(self, t: int, values: dict[str, float]) -> None:
        if self.time_ms and t <= self.time_ms[-1]:
            self.values[-1] = values  # one observation per server instant
            return
        self.time_ms.append(t)
        self.values.append(values)

    def at(self, signal: str, t: int) -> float:
        """The latest observation at or before ``t`` (the first one when ``t`` precedes all)."""
        at = max(bisect.bisect_right(self.time_ms, t) - 1, 0)
        return self.values[at][signal]

    def between(self, signal: str, t0: int, t1: int) -> list[float]:
        lo, hi = bisect.bisect_right(self.time_ms, t0), bisect.bisect_right(self.time_ms, t1)
        return [v[signal] for v in self.values[lo:hi] if signal in v]


def _spec(row: dict[str, Any]) -> InstrumentSpec:
    """An :class:`InstrumentSpec` from one ``/instruments`` element."""

    def tiers(rows: list[dict[str, Any]] | None) -> tuple[MarginTier, ...]:
        return tuple(
            MarginTier(
                float(t.get("contracts", t.get("numNonContractUnits", 0)) or 0),
                float(t["initialMargin"]),
                float(t["maintenanceMargin"]),
            )
            for t in rows or []
        )

    symbol = str(row["symbol"]).upper()
    pair = str(row.get("pair") or "")
    base, _, quote = pair.partition(":")
    last = row.get("lastTradingTime")
    return InstrumentSpec(
        symbol=symbol,
        type=str(row.get("type", "flexible_futures")),
        base=str(row.get("base") or base or symbol[3:6]),
        quote=str(row.get("quote") or quote or "USD"),
        tick_size=float(row.get("tickSize", 0.5)),
        contract_size=float(row.get("contractSize", 1)),
        precision=int(row.get("contractValueTradePrecision", 0)),
        max_position_size=float(row.get("maxPositionSize", 1e12)),
        impact_mid_size=float(row.get("impactMidSize", 1)),
        margin_levels=tiers(row.get("marginLevels")),
        retail_margin_levels=tiers(row.get("retailMarginLevels") or row.get("marginLevels")),
        opening_date_ms=parse_time_ms(str(row["openingDate"])) if row.get("openingDate") else 0,
        fee_schedule_uid=str(row.get("feeScheduleUid", "")),
        tag=str(row.get("tag") or ("perpetual" if last is None else "month")),
        underlying=row.get("underlying"),
        last_trading_time_ms=parse_time_ms(str(last)) if last else None,
        funding_rate_coefficient=row.get("fundingRateCoefficient"),
        max_relative_funding_rate=row.get("maxRelativeFundingRate"),
        category=str(row.get("category", "")),
        isin=row.get("isin"),
        post_only=bool(row.get("postOnly", False)),
        tradfi=bool(row.get("tradfi", False)),
        mtf=bool(row.get("mtf", False)),
        tags=tuple(row.get("tags") or ()),
    )


class LiveSource:
    """The live exchange's public data as a :class:`~kfresearch.sim.source.MarketSource`.

    Parameters
    ----------
    url : str, optional
        Scheme, host and port of the upstream (default :func:`upstream_url`).
    http : httpx.Client, optional
        The client the polls go through (tests give one on an in-process
        simulator's transport); default a new one with ``timeout_s``.
    poll_s : float
        Minimum seconds between two polls of one endpoint (per contract).
    timeout_s : float
        Seconds before a poll counts as a failure.
    monotonic : callable
        Seconds for the poll spacing (tests pass a fake one).
    feed : {"auto", "rest"}
        ``"auto"``: the WebSocket feeds, REST while they cannot be had;
        ``"rest"``: REST polling only.
    connector : Connector, optional
        How the stream reaches the upstream's WebSocket (tests: an in-process
        simulator's :class:`~kfresearch.stream.inprocess.InProcessConnector`);
        default a real socket to ``ws(s)://<url host>/ws/v1``.

    Example
    -------
    >>> source = LiveSource("https://futures.kraken.com")  # doctest: +SKIP
    >>> source.mark_price("PF_XBTUSD", source.now_ms())    # doctest: +SKIP
    91234.5
    """

    name = "live"
    models_queue = True

    def __init__(
        self,
        url: str | None = None,
        *,
        http: httpx.Client | None = None,
        poll_s: float = 1.0,
        timeout_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        feed: FeedChoice = "auto",
        connector: Connector | None = None,
    ) -> None:
        self.url = (url or upstream_url()).rstrip("/")
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self._feed_choice = feed
        self._connector = connector
        self._feed: LiveFeed | None = None
        self._feed_problem: str | None = None if feed == "auto" else "feed='rest' was chosen"
        # messages handed over by the stream's thread, applied by the engine's (no lock shared)
        self._inbox: deque[tuple[str, str, Any]] = deque()
        self._raw_tickers: dict[str, dict[str, Any]] = {}
        self._http = http if http is not None else httpx.Client(timeout=timeout_s)
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._server_ms = 0
        self._specs: dict[str, InstrumentSpec] = {}
        self._specs_at = float("-inf")
        self._tickers_at = float("-inf")
        self._tickers: dict[str, dict[str, Any]] = {}
        self._observed: dict[str, _Observations] = {}
        self._funding: dict[tuple[str, int], float] = {}
        self._books: dict[str, tuple[float, list[Level], list[Level]]] = {}
        self._tapes: dict[str, _Tape] = {}

    def __repr__(self) -> str:
        return f"LiveSource({self.url!r}, transport={self.transport!r})"

    # -- the WebSocket feeds --------------------------------------------------------------
    @property
    def transport(self) -> str:
        """Where live data comes from now: ``"websocket"`` or ``"rest"`` (polling)."""
        return "websocket" if self._feed is not None and self._feed.live else "rest"

    @property
    def transport_note(self) -> str:
        """One line for people: the transport in use and, for REST, why."""
        if self.transport == "websocket":
            return f"live prices over the WebSocket of {self.url}"
        why = self._feed_problem or "the WebSocket is reconnecting"
        return f"live prices by REST polling of {self.url} ({why})"

    def _open_feed(self) -> LiveFeed | None:
        """The WebSocket feeds, opened on first use; None when REST it is."""
        with self._lock:  # one feed, however many threads ask first
            if self._feed is None and self._feed_problem is None:
                from kfresearch.sim.live_feed import LiveFeed

                opened = LiveFeed.open(
                    self.url,
                    lambda *a: self._inbox.append(("ticker", a[0], a[1:])),
                    lambda symbol, rows: self._inbox.append(("trades", symbol, rows)),
                    connector=self._connector,
                    timeout_s=self.timeout_s,
                )
                if isinstance(opened, str):
                    self._feed_problem = f"its WebSocket could not be opened: {opened}"
                    log.warning("demo: %s; polling REST instead", self._feed_problem)
                else:
                    self._feed = opened
        return self._feed if self._feed is not None and self._feed.live else None

    def _streamed(self, symbol: str) -> bool:
        """Whether ``symbol``'s ticker, trades and book come from the WebSocket now."""
        feed = self._open_feed()
        return feed is not None and feed.watch(symbol) and feed.watching(symbol)

    def _drain(self) -> None:
        """Apply the messages the stream handed over (call with the lock held)."""
        while self._inbox:
            kind, symbol, payload = self._inbox.popleft()
            if kind == "trades":
                self._tapes.setdefault(symbol, _Tape()).add(payload)
                continue
            t, row, raw = payload
            self._server_ms = max(self._server_ms, t)
            self._observe(symbol, t, row)
            if raw:
                self._raw_tickers[symbol] = raw

    def _observe(self, symbol: str, t: int, row: dict[str, Any]) -> None:
        """One ticker (``GET /tickers`` names) seen at ``t``: prices and the hour's funding."""
        if row.get("markPrice") is None:
            return  # an index ticker
        self._tickers[symbol] = row
        values = {"mark": float(row["markPrice"])}
        for signal, key in (("index", "indexPrice"), ("last", "last")):
            if row.get(key) is not None:
                values[signal] = float(row[key])
        self._observed.setdefault(symbol, _Observations()).add(t, values)
        if row.get("fundingRate") is not None:
            self._funding.setdefault((symbol, t // HOUR_MS * HOUR_MS), float(row["fundingRate"]))

    def v1_ticker(self, symbol: str) -> dict[str, Any] | None:
        """The upstream's latest ticker of ``symbol`` as a WebSocket v1 message (None if none).

        The message itself when it came over the WebSocket; a ``GET /tickers``
        row renamed to v1's names when it came by REST.
        """
        wanted = symbol.upper()
        self._price(wanted, "mark", self.now_ms())
        with self._lock:
            self._drain()
            raw = self._raw_tickers.get(wanted)
            if raw is not None:
                return dict(raw)
            row = self._tickers.get(wanted)
            if row is None:
                return None
            message = {_V1_TICKER.get(k, k): v for k, v in row.items()}
            return message | {"feed": "ticker", "time": self._server_ms}

    def trade_uid(self, symbol: str, trade_id: int) -> str:
        """The upstream's uid of one of its trades (``""`` when it gave none)."""
        tape = self._tapes.get(symbol.upper())
        return tape.uids.get(int(trade_id), "") if tape is not None else ""

    def close(self) -> None:
        """Close the WebSocket feeds (REST needs no closing)."""
        if self._feed is not None:
            self._feed.close()

    @property
    def http(self) -> httpx.Client:
        """The client the polls (and demo's forwarded public requests) go through."""
        return self._http

    @property
    def last_server_ms(self) -> int:
        """The live exchange's time at the latest successful poll (0 before the first)."""
        return self._server_ms

    # -- talking to the upstream ------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.get(self.url + path, params=params)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(self.url, f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise UpstreamUnavailable(self.url, f"HTTP {response.status_code} from {path}")
        try:
            body = response.json()
        except ValueError:
            raise UpstreamUnavailable(self.url, f"{path} answered something not JSON") from None
        if isinstance(body, dict) and body.get("result") == "error":
            raise UpstreamUnavailable(self.url, f"{path} answered {body.get('error')!r}")
        return body

    def _stale(self, polled_at: float) -> bool:
        return self._monotonic() - polled_at >= self.poll_s

    def refresh(self) -> None:
        """Bring time and prices up to date: from the WebSocket when it is live, else by
        polling the tickers (if the last poll is older than ``poll_s``)."""
        with self._lock:
            feed = self._open_feed() if self._observed else None
            if feed is not None:
                feed.sync()
                self._drain()
                self._server_ms = max(self._server_ms, feed.latest_ms)
                return
            self._drain()
            if not self._stale(self._tickers_at):
                return
            body = self._get(f"{_V3}/tickers")
            self._tickers_at = self._monotonic()
            t = parse_time_ms(str(body["serverTime"]))
            self._server_ms = max(self._server_ms, t)
            for row in body.get("tickers", []):
                self._observe(str(row.get("symbol", "")).upper(), t, row)
            self._drain()
            self._open_feed()  # the first snapshot is taken: the WebSocket from now on

    def now_ms(self) -> int:
        """The live exchange's time at the latest tickers poll (polling first if stale)."""
        self.refresh()
        return self._server_ms

    # -- contracts ------------------------------------------------------------------------------
    def instruments(self, now_ms: int) -> list[InstrumentSpec]:
        with self._lock:
            if self._monotonic() - self._specs_at > _INSTRUMENTS_TTL_S:
                body = self._get(f"{_V3}/instruments")
                self._specs = {
                    spec.symbol: spec
                    for spec in map(_spec, body.get("instruments", []))
                    if spec.symbol.startswith(("PF_", "PI_", "FI_", "FF_"))
                }
                self._specs_at = self._monotonic()
            return [s for s in self._specs.values() if s.is_listed(now_ms)]

    def instrument(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        wanted = symbol.upper()
        return next((s for s in self.instruments(now_ms) if s.symbol == wanted), None)

    # -- prices ---------------------------------------------------------------------------------
    def _price(self, symbol: str, signal: str, t_ms: int) -> float:
        self.refresh()
        if symbol.upper() in self._observed and self._streamed(symbol.upper()):
            with self._lock:
                self._drain()
        observed = self._observed.get(symbol.upper())
        if observed is None:
            raise KeyError(f"the live exchange has no ticker for {symbol}")
        return observed.at(signal, t_ms)

    def mark_price(self, symbol: str, t_ms: int) -> float:
        return self._price(symbol, "mark", t_ms)

    def index_price(self, symbol: str, t_ms: int) -> float:
        return self._price(symbol, "index", t_ms)

    def last_price(self, symbol: str, t_ms: int) -> float:
        return self._price(symbol, "last", t_ms)

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """The streamed book; by REST the latest poll (fetched again when older than ``poll_s``)."""
        wanted = symbol.upper()
        if self._streamed(wanted) and self._feed is not None:
            self.refresh()  # an in-process upstream delivers what it published first
            streamed = self._feed.book(wanted)
            if streamed is not None:
                return streamed[0][:depth], streamed[1][:depth]
        with self._lock:
            found = self._books.get(wanted)
            if found is None or self._stale(found[0]):
                body = self._get(f"{_V3}/orderbook", {"symbol": wanted})
                book = body.get("orderBook", {})
                bids = sorted(((float(p), float(s)) for p, s in book.get("bids", [])), reverse=True)
                asks = sorted((float(p), float(s)) for p, s in book.get("asks", []))
                found = self._books[wanted] = (self._monotonic(), bids, asks)
        return found[1][:depth], found[2][:depth]

    # -- trades ---------------------------------------------------------------------------------
    def _poll_trades(self, symbol: str) -> _Tape:
        streamed = self._streamed(symbol)
        if streamed:
            self.refresh()
        with self._lock:
            self._drain()
            tape = self._tapes.setdefault(symbol, _Tape())
            if not self._stale(tape.polled_at) or (streamed and tape.polled_at > float("-inf")):
                return tape  # streamed: REST only backfilled the tape once
            newest = tape.time_ms[-1] if tape.time_ms else None
            params: dict[str, Any] = {"symbol": symbol}
            for _ in range(_PAGES_BACK):
                rows = self._get(f"{_V3}/history", params).get("history", [])
                tape.add(rows)
                if newest is None or not rows or len(rows) < 100:
                    break
                oldest = min(parse_time_ms(str(r["time"])) for r in rows)
                if oldest <= newest:
                    break  # joined up with what was seen before
                params["lastTime"] = min(str(r["time"]) for r in rows)
            tape.polled_at = self._monotonic()
            return tape

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> Trades:
        rows = self._poll_trades(symbol.upper()).between(start_ms, end_ms)
        if not rows:
            return Trades.empty()
        t, price, size, buy, trade_id = zip(*rows, strict=True)
        return Trades(
            np.array(t, np.int64),
            np.array(price, np.float64),
            np.array(size, np.float64),
            np.array(buy, bool),
            np.array(trade_id, np.int64),
        )

    def extremes(
        self, symbol: str, signal: Signal, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        if signal == "last":
            prices = [r[1] for r in self._poll_trades(symbol.upper()).between(t0_ms + 1, t1_ms + 1)]
        else:
            self.refresh()
            observed = self._observed.get(symbol.upper())
            prices = observed.between(signal, t0_ms, t1_ms) if observed else []
        return (min(prices), max(prices)) if prices else None

    # -- funding and collateral --------------------------------------------------------------
    def funding_rate(self, symbol: str, hour_ms: int) -> tuple[float, float]:
        """The hour's absolute rate as polled (relative = absolute / mark, or x mark if inverse)."""
        wanted = symbol.upper()
        self.refresh()
        key = (wanted, hour_ms)
        if key not in self._funding:
            self._funding[key] = self._historical_rate(wanted, hour_ms)
        absolute = self._funding[key]
        mark = self._price(wanted, "mark", hour_ms)
        spec = self._specs.get(wanted)
        inverse = spec is not None and spec.is_inverse
        return absolute, absolute * mark if inverse else absolute / mark

    def _historical_rate(self, symbol: str, hour_ms: int) -> float:
        """An hour no poll saw: the exchange's published rate for it, else the latest one seen."""
        body = self._get("/derivatives/api/v4/historicalfundingrates", {"symbol": symbol})
        for row in body.get("rates", []):
            if parse_time_ms(str(row["timestamp"])) == hour_ms:
                return float(row["fundingRate"])
        seen = [rate for (s, h), rate in sorted(self._funding.items()) if s == symbol]
        return seen[-1] if seen else 0.0

    # -- what a ticker says (the simulator's WebSocket sessions ask for it) -------------------
    def _ticker_row(self, symbol: str) -> dict[str, Any]:
        wanted = symbol.upper()
        self._price(wanted, "mark", self.now_ms())
        with self._lock:
            self._drain()
            return dict(self._tickers.get(wanted, {}))

    def stats_24h(self, symbol: str, now_ms: int) -> Stats24h:
        """The upstream's 24 h statistics, as its latest ticker gives them.

        Fields a ticker does not carry (the WebSocket ticker has no open, high,
        low) are the last price; sizes in contracts, ``volume_quote`` USD,
        ``change_pct`` percent.
        """
        row = self._ticker_row(symbol)

        def number(key: str, default: float) -> float:
            value = row.get(key)
            return float(value) if value is not None else default

        last = number("last", self._price(symbol.upper(), "mark", now_ms))
        last_time = row.get("lastTime")
        return Stats24h(
            open=number("open24h", last),
            high=number("high24h", last),
            low=number("low24h", last),
            last=last,
            last_time_ms=parse_time_ms(last_time) if last_time is not None else now_ms,
            last_size=number("lastSize", 0.0),
            volume=number("vol24h", 0.0),
            volume_quote=number("volumeQuote", 0.0),
            change_pct=number("change24h", 0.0),
        )

    def open_interest(self, symbol: str, t_ms: int) -> float:
        """Open interest in contracts, as the upstream's latest ticker gives it (0 if absent)."""
        value = self._ticker_row(symbol).get("openInterest")
        return float(value) if value is not None else 0.0

    def funding_prediction(self, symbol: str, now_ms: int) -> tuple[float, float]:
        """(absolute, relative) predicted rate of the next hour from the latest ticker."""
        row = self._ticker_row(symbol)
        absolute = float(row.get("fundingRatePrediction") or 0.0)
        mark = self._price(symbol.upper(), "mark", now_ms)
        spec = self._specs.get(symbol.upper())
        inverse = spec is not None and spec.is_inverse
        return absolute, absolute * mark if inverse else absolute / mark

    def usd_value(self, currency: str, t_ms: int) -> float:
        code = currency.upper()
        if code in CASH:
            return 1.0
        code = {"BTC": "XBT"}.get(code, code)
        self.refresh()
        for symbol in (f"PI_{code}USD", f"PF_{code}USD"):
            if symbol in self._observed:
                return self._price(symbol, "index", t_ms)
        raise KeyError(currency)
