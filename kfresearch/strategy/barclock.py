"""How the stream-driven run closes bars: :class:`BarClock` turns ``kf.stream()``'s trades and
heartbeats into bar closes (see :mod:`kfresearch.strategy.live` for the rules: a bar
``[start, end)`` closes at the first heartbeat stamped at or after ``end`` while every
``trade`` subscription is live; a bar not seen whole is marked ``REST`` and read over REST).

Example
-------
>>> clock = BarClock(stream, ("PF_XBTUSD",), 60_000, first_end, books=False,   # doctest: +SKIP
...                  now_ms=lambda: 0, lag_ms=2_000)
>>> stream.on("trade", clock.on_trade); stream.on("heartbeat", clock.on_heartbeat)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.strategy.events import Bar, Book, Trade

if TYPE_CHECKING:
    from kfresearch.stream import Message, Stream

__all__ = ["REST", "BarClock", "Step", "Stop", "bar_of", "stamp"]

REST = "rest"  # a bar (or its trades) the stream did not see whole: read it over REST


def stamp(ms: int) -> pd.Timestamp:
    """``ms`` (epoch milliseconds) as a UTC Timestamp."""
    return pd.Timestamp(ms, unit="ms", tz="UTC")


@dataclass(frozen=True)
class Step:
    """A bar close as the stream saw it: per symbol the bar (None: no trade, ``REST``:
    not seen whole), the bar's trades (``REST`` likewise) and the book (``on_book``)."""

    end: int
    bars: dict[str, Bar | str | None]
    trades: dict[str, list[Trade] | str]
    books: dict[str, Book]


class Stop:
    """Put on the queue to end the run at once."""


class BarClock:
    """Closes bars from the stream's trades and heartbeats (module docstring).

    The stream's callbacks run on its loop's thread; :meth:`advance` may also
    be called by the run's thread after ``stream.sync()``: one lock.
    """

    def __init__(
        self, stream: Stream, symbols: tuple[str, ...], step_ms: int, first_end: int,
        *, books: bool, now_ms: Callable[[], int], lag_ms: int,
    ) -> None:
        self.stream = stream
        self.now_ms = now_ms
        self.lag_ms = lag_ms
        self.symbols = symbols
        self.step_ms = step_ms
        self.next_end = first_end
        self.books = books
        self.steps: queue.Queue[Step | Stop] = queue.Queue()
        self.known_to = -1  # every trade up to here (inclusive) was seen
        # trades of a symbol are seen whole from ``covered_from`` on (None: not known yet)
        self.covered_from: dict[str, int | None] = dict.fromkeys(symbols)
        self.tape: dict[str, list[dict[str, Any]]] = {s: [] for s in symbols}
        self.uids: dict[str, set[str]] = {s: set() for s in symbols}
        self.gaps = 0  # resubscriptions whose snapshot did not reach back
        self._lock = threading.Lock()

    # -- the stream's callbacks (its loop thread) ------------------------------------------
    def on_trade(self, message: Message) -> None:
        symbol = message.symbol or ""
        if symbol not in self.tape:
            return
        rows = sorted(message.records, key=lambda r: int(r["time"]))
        with self._lock:
            if message.initial:
                oldest = int(rows[0]["time"]) if rows else None
                if oldest is None or oldest > self.known_to:
                    # the snapshot does not reach back to what was seen: a hole before it
                    self.gaps += self.known_to >= 0
                    self.covered_from[symbol] = None if oldest is None else oldest + 1
            floor = self.next_end - self.step_ms  # trades of closed bars are not needed
            for row in rows:
                uid = str(row["uid"])
                if int(row["time"]) >= floor and uid not in self.uids[symbol]:
                    self.uids[symbol].add(uid)
                    self.tape[symbol].append(row)

    def on_heartbeat(self, message: Message) -> None:
        live = {(feed, product) for feed, product, status in self.stream.subscriptions
                if status == "ready"}
        if all(("trade", s) in live for s in self.symbols):
            # a heartbeat without the exchange's time (the Unified WebSocket's): ``lag`` ago
            at = message.time_ms if message.time_ms is not None else self.now_ms() - self.lag_ms
            self.advance(at)

    # -- closing -------------------------------------------------------------------------
    def advance(self, t_ms: int) -> None:
        """The exchange's clock reached ``t_ms`` and every trade up to it was handled."""
        with self._lock:
            for symbol, since in self.covered_from.items():
                if since is None:  # subscribed without a snapshot to date it: from now on
                    self.covered_from[symbol] = t_ms
            self.known_to = max(self.known_to, t_ms)
            while self.next_end <= t_ms:
                self.steps.put(self._close(self.next_end))
                self.next_end += self.step_ms

    def _close(self, end: int) -> Step:
        start = end - self.step_ms
        bars: dict[str, Bar | str | None] = {}
        trades: dict[str, list[Trade] | str] = {}
        for symbol in self.symbols:
            tape = sorted(self.tape[symbol], key=lambda r: int(r["time"]))
            rows = [r for r in tape if int(r["time"]) < end]
            later = [r for r in tape if int(r["time"]) >= end]
            self.tape[symbol] = later
            self.uids[symbol] = {str(r["uid"]) for r in later}
            since = self.covered_from[symbol]
            if since is None or since > start:
                bars[symbol] = trades[symbol] = REST
                continue
            trades[symbol] = [
                Trade(symbol, stamp(int(r["time"])), float(r["price"]), float(r["size"]),
                      str(r["side"]))
                for r in rows
            ]
            bars[symbol] = bar_of(symbol, start, end, trades[symbol])  # type: ignore[arg-type]
        books = {s: self._book(s, end) for s in self.symbols} if self.books else {}
        return Step(end, bars, trades, books)

    def _book(self, symbol: str, t_ms: int) -> Book:
        bids, asks = self.stream.book(symbol).levels()
        return Book(symbol, stamp(t_ms), tuple((float(p), float(s)) for p, s in bids),
                    tuple((float(p), float(s)) for p, s in asks))

    def stop(self) -> None:
        self.steps.put(Stop())


def bar_of(symbol: str, start: int, end: int, trades: list[Trade]) -> Bar | None:
    """The OHLCV of ``trades`` (oldest first); None when there are none."""
    if not trades:
        return None
    prices = [t.price for t in trades]
    # the exchange sums sizes in decimals: round away the float sum's last bits
    volume = round(math.fsum(t.size for t in trades), 8)
    return Bar(symbol, start, end, prices[0], max(prices), min(prices), prices[-1], volume)
