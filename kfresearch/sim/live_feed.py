"""The live exchange's public WebSocket feeds, for the ``demo`` market source.

:class:`LiveFeed` runs one :class:`kfresearch.stream.Stream` (WebSocket v1,
public feeds only, no keys) to the upstream and subscribes ``ticker``,
``trade`` and ``book`` for each contract the paper account touches
(:meth:`LiveFeed.watch`). Every ticker and trade message is handed to the
callbacks it was built with, on the stream's loop; books are read from the
stream's :class:`~kfresearch.stream.LiveBook` (checked delta by delta,
fetched again on a gap). The exchange's time is the latest time any message
carried (heartbeat, ticker, trade).

The stream runs on a loop of its own in a background thread, always: the
engine reads it synchronously, also inside a notebook whose kernel thread has
a running loop (see :mod:`kfresearch.stream.runner`).

:meth:`LiveFeed.open` returns None when the socket cannot be opened within
``timeout_s`` (the caller polls REST instead and says so); it never raises
for that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kfresearch.environments import resolve_environment
from kfresearch.errors import KFError
from kfresearch.sim.source import Level

if TYPE_CHECKING:
    from kfresearch.stream import Message, Stream
    from kfresearch.stream.connection import Connector

__all__ = ["LiveFeed"]

log = logging.getLogger("kfresearch.demo")
_FEEDS = ("ticker", "trade", "book")


class LiveFeed:
    """Public ticker, trade and book feeds of the upstream (see the module docstring).

    Parameters
    ----------
    stream : Stream
        A started stream (use :meth:`open`).
    flushable : bool
        True when the upstream is in-process (tests): :meth:`sync` then
        delivers everything it published up to its time.
    on_ticker : callable
        ``on_ticker(symbol, time_ms, row, raw)`` for each ticker message
        (``row`` in ``GET /tickers`` names, ``raw`` the v1 message).
    on_trades : callable
        ``on_trades(symbol, rows)`` for each trade message and snapshot
        (``rows`` in ``GET /history`` names, ``time`` in epoch ms).
    """

    def __init__(
        self,
        stream: Stream,
        on_ticker: Callable[[str, int, dict[str, Any], dict[str, Any]], None],
        on_trades: Callable[[str, list[dict[str, Any]]], None],
        *,
        flushable: bool = False,
    ) -> None:
        self.stream = stream
        self.flushable = flushable
        self._on_ticker = on_ticker
        self._on_trades = on_trades
        self._latest_ms = 0
        self._watched: set[str] = set()
        self._lock = threading.Lock()
        stream.on("ticker", self._ticker, initial=True)
        stream.on("trade", self._trade, initial=True)

    @classmethod
    def open(
        cls,
        url: str,
        on_ticker: Callable[[str, int, dict[str, Any], dict[str, Any]], None],
        on_trades: Callable[[str, list[dict[str, Any]]], None],
        *,
        connector: Connector | None = None,
        timeout_s: float = 5.0,
    ) -> LiveFeed | str:
        """Connect to ``url``'s ``/ws/v1``: the feed, or why the socket could not be opened."""
        from kfresearch.stream import Stream

        env = resolve_environment("live", base_url=url)
        stream = Stream(env, heartbeat=True, timeout=timeout_s, connector=connector)
        # started from a thread with no running loop, the stream makes a loop of its own
        starter = threading.Thread(target=stream.start, name="kfresearch-demo-feed-start")
        starter.start()
        starter.join()
        deadline = time.monotonic() + timeout_s
        while stream.status != "connected":
            failures = stream.stats()["connect_failures"]
            if failures or stream.closed or time.monotonic() > deadline:
                stream.close()
                errors = stream.errors
                why = f": {errors[-1]}" if errors else ""
                return f"no connection within {timeout_s:g} s ({failures} failed attempt(s){why})"
            time.sleep(0.005)
        flushable = bool(connector is not None and connector.flushable)
        return cls(stream, on_ticker, on_trades, flushable=flushable)

    @property
    def latest_ms(self) -> int:
        """The upstream's time: the latest time a message carried (0 before any)."""
        heartbeat = self.stream.last_heartbeat_ms or 0
        return max(self._latest_ms, heartbeat)

    @property
    def live(self) -> bool:
        return self.stream.status == "connected"

    def sync(self) -> None:
        """Deliver everything the in-process upstream published up to its time (else nothing)."""
        if self.flushable:
            self.stream.sync()

    def watch(self, symbol: str) -> bool:
        """Subscribe the contract's ticker, trades and book (once); False if the stream refused."""
        with self._lock:
            if symbol in self._watched:
                return True
            try:
                for feed in _FEEDS:
                    self.stream.subscribe(feed, [symbol])
            except KFError as exc:
                log.warning("demo: the live feeds of %s could not be subscribed (%s)", symbol, exc)
                return False
            self._watched.add(symbol)
            return True

    def watching(self, symbol: str) -> bool:
        return symbol in self._watched and self.live

    def book(self, symbol: str) -> tuple[list[Level], list[Level]] | None:
        """The streamed book (bids, asks, best first), or None while it is being fetched again."""
        if not self.watching(symbol):
            return None
        book = self.stream.book(symbol)
        if book.error is not None:
            return None
        bids, asks = book.levels()
        if not len(bids) and not len(asks):
            return None
        return (
            [(float(p), float(s)) for p, s in bids],
            [(float(p), float(s)) for p, s in asks],
        )

    def close(self) -> None:
        self.stream.close()

    # -- callbacks, on the stream's loop ----------------------------------------------------
    def _ticker(self, message: Message) -> None:
        if message.symbol is None or message.time_ms is None:
            return
        self._latest_ms = max(self._latest_ms, int(message.time_ms))
        raw = message.raw if isinstance(message.raw, dict) else {}
        for row in message.records:
            self._on_ticker(message.symbol, int(message.time_ms), row, raw)

    def _trade(self, message: Message) -> None:
        if message.symbol is None:
            return
        rows = [dict(r) for r in message.records if r.get("time") is not None]
        if rows:
            self._latest_ms = max(self._latest_ms, max(int(r["time"]) for r in rows))
            self._on_trades(message.symbol, rows)
