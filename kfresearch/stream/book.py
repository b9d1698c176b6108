"""The local order book: a snapshot, then deltas checked one by one.

:class:`LiveBook` keeps one price → size map per side. A delta must carry the
next ``seq`` (the exchange numbers them per subscription); a delta whose
``seq`` is not above the book's is old news and is ignored; one that skips a
number, a negative size, or a book left crossed (best bid ≥ best ask) means
the local book can no longer be trusted: the book stops applying deltas,
counts the problem, and the stream asks the exchange for a fresh snapshot.

On the Unified WebSocket (:meth:`LiveBook.apply_levels`) there is no
``seq``: every snapshot and update carries the CRC-32 of the top ten levels
per side, computed from the exact wire text (:mod:`kfresearch.checksum`,
reference kraken-unified-ws.md §6). The book keeps each level's text, applies
the update, truncates to the subscribed depth and checks the checksum; a
mismatch empties the book (a wrong book is never shown) and counts
``checksum``; :attr:`LiveBook.failures_in_row` counts mismatches since the
last verified update, and the stream gives up on the book after
:data:`MAX_CHECKSUM_FAILURES` of them.

:meth:`LiveBook.frame` is :func:`kfresearch.frames.orderbook` applied to the
current levels, so it has exactly the columns, dtypes, derived columns and
``attrs`` of ``kf.orderbook(symbol)``.

Example
-------
>>> from kfresearch.stream.events import BookDelta, BookSnapshot
>>> book = LiveBook("PF_XBTUSD")
>>> book.apply_snapshot(BookSnapshot("PF_XBTUSD", 1, 0, [(99.0, 2.0)], [(101.0, 1.0)]))
>>> book.apply_delta(BookDelta("PF_XBTUSD", 2, 5, True, 100.0, 3.0))
'applied'
>>> book.best_bid, book.best_ask
(100.0, 101.0)
>>> book.apply_delta(BookDelta("PF_XBTUSD", 4, 6, False, 101.0, 0.0))  # seq 3 is missing
'gap'
"""

from __future__ import annotations

import heapq
import math
import threading
from typing import Any, Literal

import numpy as np
import pandas as pd

from kfresearch import frames
from kfresearch.checksum import CHECKSUM_LEVELS, book_checksum, qty_is_zero
from kfresearch.errors import StreamError
from kfresearch.stream.events import BookDelta, BookLevels, BookSnapshot

__all__ = ["MAX_CHECKSUM_FAILURES", "BookStatus", "LiveBook", "Outcome"]

BookStatus = Literal["waiting", "live", "resyncing", "failed"]
#: what :meth:`LiveBook.apply_delta` did: applied, ignored (not live, or old
#: ``seq``), or the problem that stopped the book
Outcome = Literal["applied", "ignored", "gap", "crossed", "negative_size", "checksum"]
PROBLEMS: tuple[str, ...] = ("gap", "crossed", "negative_size", "checksum")
#: checksum mismatches in a row (fresh snapshots in between) after which the stream
#: stops maintaining a book and says so (Kraken's SDK does the same, reference §6)
MAX_CHECKSUM_FAILURES = 5

_INF = math.inf


def _side_array(levels: dict[float, float], *, descending: bool) -> np.ndarray[Any, Any]:
    n = len(levels)
    prices = np.fromiter(levels.keys(), dtype=np.float64, count=n)
    sizes = np.fromiter(levels.values(), dtype=np.float64, count=n)
    order = np.argsort(-prices if descending else prices, kind="stable")
    return np.column_stack((prices[order], sizes[order]))


class LiveBook:
    """An order book kept up to date from the stream (get one with ``stream.book(symbol)``).

    Attributes
    ----------
    symbol : str
    status : {"waiting", "live", "resyncing"}
        ``waiting`` for the first snapshot, ``live``, or ``resyncing`` after a
        problem until the fresh snapshot arrives.
    seq : int or None
        ``seq`` of the last message applied.
    time_ms : int or None
        The exchange's time of the last message applied (epoch ms).

    Reads (:meth:`frame`, :attr:`best_bid` …) are safe from any thread.
    """

    def __init__(self, symbol: str, *, env: str | None = None, depth: int | None = None) -> None:
        self.symbol = symbol
        self.env = env
        self.depth = depth
        self.failures_in_row = 0
        self.error: StreamError | None = None
        self._texts: tuple[dict[float, tuple[str, str]], dict[float, tuple[str, str]]] = ({}, {})
        self.status: BookStatus = "waiting"
        self.seq: int | None = None
        self.time_ms: int | None = None
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._best_bid = -_INF
        self._best_ask = _INF
        self._lock = threading.Lock()
        self.counts: dict[str, int] = dict.fromkeys(
            ("snapshots", "deltas", "ignored", *PROBLEMS), 0
        )

    # -- updates (the stream's loop) -------------------------------------------------
    def apply_snapshot(self, snapshot: BookSnapshot) -> Outcome | None:
        """Replace the book; a snapshot that is itself crossed or negative is a problem."""
        with self._lock:
            self._bids = {p: q for p, q in snapshot.bids if q != 0.0}
            self._asks = {p: q for p, q in snapshot.asks if q != 0.0}
            self._best_bid = max(self._bids, default=-_INF)
            self._best_ask = min(self._asks, default=_INF)
            self.seq = snapshot.seq
            self.time_ms = snapshot.time_ms
            self.counts["snapshots"] += 1
            problem: Outcome | None = None
            if any(q < 0.0 for q in (*self._bids.values(), *self._asks.values())):
                problem = "negative_size"
            elif self._best_bid >= self._best_ask:
                problem = "crossed"
            self.status = "live" if problem is None else "resyncing"
            if problem is not None:
                self.counts[problem] += 1
            return problem

    def apply_delta(self, delta: BookDelta) -> Outcome:
        """Apply one level change, after checking it (see the module docstring)."""
        with self._lock:
            if self.status != "live":
                self.counts["ignored"] += 1
                return "ignored"
            seq = delta.seq
            if seq is not None and self.seq is not None:
                if seq <= self.seq:
                    self.counts["ignored"] += 1
                    return "ignored"
                if seq != self.seq + 1:
                    return self._stop("gap")
            price, size = delta.price, delta.size
            if size < 0.0:
                return self._stop("negative_size")
            if delta.bid:
                levels = self._bids
                if size == 0.0:
                    if levels.pop(price, None) is not None and price == self._best_bid:
                        self._best_bid = max(levels, default=-_INF)
                else:
                    levels[price] = size
                    if price > self._best_bid:
                        self._best_bid = price
            else:
                levels = self._asks
                if size == 0.0:
                    if levels.pop(price, None) is not None and price == self._best_ask:
                        self._best_ask = min(levels, default=_INF)
                else:
                    levels[price] = size
                    if price < self._best_ask:
                        self._best_ask = price
            self.seq = seq
            self.time_ms = delta.time_ms
            self.counts["deltas"] += 1
            if self._best_bid >= self._best_ask:
                return self._stop("crossed")
            return "applied"

    def _stop(self, problem: Outcome) -> Outcome:
        self.status = "resyncing"
        self.counts[problem] += 1
        return problem

    def apply_levels(self, event: BookLevels) -> Outcome:
        """Apply a Unified WebSocket snapshot or update and verify its checksum.

        Returns ``applied``; ``ignored`` (an update while not live); or the
        problem: ``checksum`` (the book is then emptied: never shown wrong),
        ``crossed`` or ``negative_size``.

        Examples
        --------
        >>> book = LiveBook("PF_XBTUSD", depth=10)
        >>> asks = [("45285.21000000", "1.5"), ("45286.41545719", "53")]
        >>> bids = [("45282.11000000", "0.45"), ("45281.01000000", "0.0001")]
        >>> book.apply_levels(BookLevels("PF_XBTUSD", True, 0, bids, asks, 252777935))
        'applied'
        >>> book.apply_levels(BookLevels("PF_XBTUSD", False, 1, [], [("45285.21", "0")], 1))
        'checksum'
        >>> book.status, len(book)
        ('resyncing', 0)
        """
        with self._lock:
            if event.snapshot:
                self._clear()
                self.counts["snapshots"] += 1
            elif self.status != "live":
                self.counts["ignored"] += 1
                return "ignored"
            for bid, levels in ((True, event.bids), (False, event.asks)):
                book = self._bids if bid else self._asks
                texts = self._texts[0 if bid else 1]
                for price_text, qty_text in levels:
                    price = float(price_text)
                    if qty_is_zero(qty_text):
                        book.pop(price, None)
                        texts.pop(price, None)
                        continue
                    size = float(qty_text)
                    if size < 0.0:
                        self._clear()
                        return self._stop("negative_size")
                    book[price] = size
                    texts[price] = (price_text, qty_text)
            if self.depth is not None:  # levels pushed past the depth are dropped silently
                self._truncate(self._bids, self._texts[0], descending=True)
                self._truncate(self._asks, self._texts[1], descending=False)
            self._best_bid = max(self._bids, default=-_INF)
            self._best_ask = min(self._asks, default=_INF)
            if event.time_ms is not None:
                self.time_ms = event.time_ms
            if event.checksum is None or event.checksum != self._checksum():
                self._clear()
                self.failures_in_row += 1
                return self._stop("checksum")
            if self._best_bid >= self._best_ask:
                return self._stop("crossed")
            if not event.snapshot:
                self.counts["deltas"] += 1
                self.failures_in_row = 0
            self.status = "live"
            return "applied"

    def _checksum(self) -> int:
        asks = [self._texts[1][p] for p in heapq.nsmallest(CHECKSUM_LEVELS, self._asks)]
        bids = [self._texts[0][p] for p in heapq.nlargest(CHECKSUM_LEVELS, self._bids)]
        return book_checksum(asks, bids)

    def _truncate(
        self, levels: dict[float, float], texts: dict[float, tuple[str, str]], *,
        descending: bool,
    ) -> None:
        depth = self.depth or 0
        if len(levels) <= depth:
            return
        keep = set(heapq.nlargest(depth, levels) if descending else heapq.nsmallest(depth, levels))
        for price in [p for p in levels if p not in keep]:
            del levels[price]
            texts.pop(price, None)

    def _clear(self) -> None:
        self._bids, self._asks = {}, {}
        self._texts = ({}, {})
        self._best_bid, self._best_ask = -_INF, _INF

    def fail(self, error: StreamError) -> None:
        """Stop maintaining the book (and empty it): reads raise ``error``."""
        with self._lock:
            self._clear()
            self.status = "failed"
            self.error = error

    def restart(self) -> None:
        """Maintain the book again (the user subscribed again after a failure)."""
        with self._lock:
            self.failures_in_row = 0
            self.error = None
            if self.status == "failed":
                self.status = "waiting"

    def reset(self) -> None:
        """Wait for a new snapshot (after a reconnect); the levels stay until it comes."""
        with self._lock:
            self.status = "waiting"

    # -- reads -------------------------------------------------------------------------
    @property
    def best_bid(self) -> float:
        """Highest bid price (NaN when there is none)."""
        return self._best_bid if self._best_bid > -_INF else math.nan

    @property
    def best_ask(self) -> float:
        """Lowest ask price (NaN when there is none)."""
        return self._best_ask if self._best_ask < _INF else math.nan

    @property
    def mid(self) -> float:
        return (self.best_bid + self.best_ask) / 2.0

    @property
    def spread(self) -> float:
        return self.best_ask - self.best_bid

    @property
    def time(self) -> pd.Timestamp | None:
        """:attr:`time_ms` as a UTC Timestamp."""
        return None if self.time_ms is None else pd.Timestamp(self.time_ms, unit="ms", tz="UTC")

    def levels(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """``(bids, asks)``: float64 arrays of ``[price, size]`` rows, best first."""
        with self._lock:
            bids = _side_array(self._bids, descending=True)
            asks = _side_array(self._asks, descending=False)
        return bids, asks

    def frame(self, depth: int | None = None) -> pd.DataFrame:
        """The book as ``kf.orderbook(symbol, depth)`` returns it.

        Returns
        -------
        pandas.DataFrame
            :func:`kfresearch.frames.orderbook`: ``side``, ``level``, ``price``,
            ``size``, ``cum_size``, ``cum_notional``, bids then asks, best
            first; ``attrs`` ``symbol``, ``mid``, ``spread``, ``spread_bps``,
            ``server_time`` (the exchange's time of the last message applied),
            ``env``. Empty (all columns) until the first snapshot.

        Examples
        --------
        >>> s.book("PF_XBTUSD").frame(depth=5)[["side", "level", "price", "size"]]  # doctest: +SKIP
        """
        with self._lock:
            if self.error is not None:
                raise self.error
            bids = _side_array(self._bids, descending=True)
            asks = _side_array(self._asks, descending=False)
            time_ms = self.time_ms
        out = frames.orderbook({"bids": bids, "asks": asks}, symbol=self.symbol, depth=depth)
        if time_ms is not None:
            out.attrs["server_time"] = pd.Timestamp(time_ms, unit="ms", tz="UTC").as_unit("ns")
        if self.env is not None:
            out.attrs["env"] = self.env
        return out

    def stats(self) -> dict[str, Any]:
        """Counters: ``snapshots``, ``deltas`` applied, ``ignored``, each problem, and
        ``failures_in_row`` (checksum mismatches since the last verified update)."""
        return {"status": self.status, "seq": self.seq, **self.counts,
                "failures_in_row": self.failures_in_row}

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def __repr__(self) -> str:
        if self.status == "waiting" and self.seq is None:
            return f"<LiveBook {self.symbol}: waiting for the snapshot>"
        return (
            f"<LiveBook {self.symbol} {self.status}: {len(self._bids)} bids, "
            f"{len(self._asks)} asks, best {self.best_bid:,.8g} / {self.best_ask:,.8g}, "
            f"seq {self.seq}>"
        )
