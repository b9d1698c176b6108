"""The recorder: keep the live trade tape and book snapshots in the store, from the stream.

Data the exchange will not serve later (book snapshots are never served for
the past; trades and candles may not outlive the REST API, reference
``kraken-unified-ws.md`` §2, §5) is written as it arrives on the WebSocket
(:mod:`kfresearch.stream`), in the same dataset as downloads:

* **trades**: every trade of the ``trade`` feed, with the columns of
  ``kf.trades()`` (what the feed does not send, such as the maker and taker
  order details, is NA), plus the recent trades of the feed's snapshot;
* **book**: the top ``depth`` levels of the live book (snapshot + deltas,
  checked by the stream) every ``every`` seconds of the exchange's time, one
  row per level (``side``, ``level``, ``price``, ``size``) indexed by the
  snapshot's ``time``; and one at every fresh book snapshot.

Time is the exchange's. The ``heartbeat`` feed (subscribed by the recorder)
says how far the record is complete: a heartbeat stamped ``T`` follows
everything published up to ``T``. A heartbeat without a time (the Unified
WebSocket's) stands for the latest time a book or trade message carried.
Every ``roll`` seconds of it (default 5 minutes) the rows so far are
committed (a file per series and UTC day, then the manifest, as downloads
do), so a killed recorder loses at most one roll.
:meth:`Recorder.stop` commits the rest.

Gaps
    A reconnect (or a book fetched again after a ``seq`` gap) can lose data.
    The recorder never pretends otherwise: what it did not see is left out of
    the manifest's covered ranges (``store.info()`` counts such ``holes`` and
    lists them in ``hole_ranges``), listed in :attr:`RecordSummary.gaps` and
    logged as a warning when found.

    * trades: after a reconnect the feed's snapshot (the most recent trades)
      must reach back to the last trade (or heartbeat) seen before it, or the
      time between is a gap. The trades of a gap can still be downloaded
      while the exchange serves them: ``store.trades(symbol, since=…)`` fetches
      exactly the holes.
    * book: from the last heartbeat while the book was live to the time of
      its fresh snapshot.

    The reference does not say how many trades the snapshot holds, nor that
    the heartbeat follows the other feeds' messages of its time; the recorder
    assumes the snapshot holds every trade from its oldest one on and that the
    heartbeat comes last (both true of the simulator). Nor does it show
    ``heartbeat`` pushes on the Unified WebSocket (Spot v2 sends one a
    second): without them the book is sampled at its snapshots only and
    nothing is committed before :meth:`Recorder.stop`.

Use it from a notebook (``await``) or async code::

    s = kf.stream()
    rec = await store.recorder(s, ["PF_XBTUSD", "PF_ETHUSD"])
    ...                                   # the stream runs; rows are committed every roll
    print(rec.stop())                     # commits the rest: RecordSummary

or block in a script: ``store.record("PF_XBTUSD", duration=3600)`` (what
``kfresearch record`` runs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from kfresearch import frames
from kfresearch.store.intervals import Range
from kfresearch.store.kinds import KINDS
from kfresearch.store.manifest import Series, times_ms
from kfresearch.store.read import conform

if TYPE_CHECKING:
    from kfresearch.stream import Message, Stream, Subscription

__all__ = ["Gap", "RecordSummary", "Recorder"]

log = logging.getLogger("kfresearch.store")


def _stamp(ms: int) -> str:
    return f"{pd.Timestamp(ms, unit='ms', tz='UTC'):%Y-%m-%d %H:%M:%S}"


class Gap(NamedTuple):
    """A time range the recorder did not see (epoch ms, ``[start, end)``)."""

    kind: str
    symbol: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.kind} {self.symbol} {_stamp(self.start)} → {_stamp(self.end)} UTC"


@dataclass
class RecordSummary:
    """What a recording kept: book snapshots and their rows, trades, commits, and gaps."""

    symbols: tuple[str, ...]
    snapshots: int = 0
    book_rows: int = 0
    trade_rows: int = 0
    rolls: int = 0
    gaps: list[Gap] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"recorded {', '.join(self.symbols)}: {self.snapshots} book snapshots "
            f"({self.book_rows:,} rows), {self.trade_rows:,} trades, {self.rolls} rolls"
        )
        if not self.gaps:
            return text + ", no gaps"
        return text + f"; {len(self.gaps)} gaps (not seen): " + "; ".join(map(str, self.gaps))


@dataclass
class _Track:
    """One series being recorded: the unbroken span seen so far and its rows not committed.

    ``start``/``end``: every row of ``[start, end)`` is in ``rows`` or committed.
    ``closed``: earlier spans, ended by a gap, not committed yet. ``broken``:
    where the last span ended when a gap was found and the next span has not
    begun yet.
    """

    series: Series
    symbol: str
    start: int | None = None
    end: int | None = None
    closed: list[Range] = field(default_factory=list)
    broken: int | None = None
    rows: list[Any] = field(default_factory=list)
    uids: set[str] = field(default_factory=set)  # trades: those in ``rows``
    next_sample: int = 0  # book: the next snapshot is due at this time

    def begin(self, at: int, gaps: list[Gap]) -> None:
        """A new span starts at ``at``; the time since the last one is a gap (if any)."""
        self.start = self.end = at
        if self.broken is not None and at > self.broken:
            gap = Gap(self.series.kind, self.symbol, self.broken, at)
            gaps.append(gap)
            log.warning("the recorder lost %s (a reconnect or a fresh book)", gap)
        self.broken = None

    def cut(self) -> None:
        """The span ends where it is: what follows was not seen."""
        if self.start is not None and self.end is not None:
            if self.end > self.start:
                self.closed.append((self.start, self.end))
            self.broken = self.end
        self.start = self.end = None

    def extend(self, to: int) -> None:
        if self.end is not None:
            self.end = max(self.end, to)

    def spans(self) -> list[Range]:
        """The spans to commit: the closed ones and the current one."""
        spans = list(self.closed)
        if self.start is not None and self.end is not None:
            spans.append((self.start, self.end))
        return [(a, b) for a, b in spans if b > a]


class Recorder:
    """Records the trades and book snapshots of some contracts from a stream (see the module).

    Make it with :meth:`kfresearch.store.Store.recorder`, which also checks
    the symbols and subscribes.

    Parameters
    ----------
    stream : Stream
    root : Path
        The store directory.
    symbols : sequence of str
        Contract symbols, as listed.
    trades, book : bool
        What to record.
    every : float
        Seconds of exchange time between two book snapshots.
    roll : float
        Seconds of exchange time between two commits.
    depth : int
        Book levels per side kept in each snapshot.
    """

    def __init__(
        self,
        stream: Stream,
        root: Path,
        symbols: Sequence[str],
        *,
        trades: bool = True,
        book: bool = True,
        every: float = 5.0,
        roll: float = 300.0,
        depth: int = 25,
    ) -> None:
        self.stream = stream
        self.every_ms = max(1, round(every * 1000))
        self.roll_ms = max(1, round(roll * 1000))
        self.depth = depth
        self.summary = RecordSummary(tuple(symbols))
        self._trades = {s: _Track(Series(root, "trades", {"symbol": s}), s) for s in symbols} \
            if trades else {}
        self._books = {s: _Track(Series(root, "book", {"symbol": s}), s) for s in symbols} \
            if book else {}
        self._rolled: int | None = None
        self._latest: int | None = None  # the latest exchange time a message carried
        self._lock = threading.Lock()  # callbacks run on the stream's thread, stop() on yours
        self._offs: list[Callable[[], None]] = []
        self.subscriptions: list[Subscription] = []

    # -- starting and stopping ---------------------------------------------------------------
    def start(self) -> Recorder:
        """Register the callbacks, then subscribe (``heartbeat``, ``trade``, ``book``).

        In a script the subscriptions are live when this returns; on a
        notebook's loop ``await`` the recorder for that.
        """
        symbols = list(self.summary.symbols)
        self._offs = [self.stream.on("heartbeat", self._on_heartbeat, initial=True)]
        if self._trades:
            self._offs.append(self.stream.on("trade", self._on_trade, initial=True))
        if self._books:
            self._offs.append(self.stream.on("book", self._on_book, initial=True))
        self.subscriptions = [self.stream.subscribe("heartbeat")]
        if self._trades:
            self.subscriptions.append(self.stream.subscribe("trade", symbols))
        if self._books:
            self.subscriptions.append(self.stream.subscribe("book", symbols))
        return self

    def __await__(self) -> Generator[Any, None, Recorder]:
        return self._live().__await__()

    async def _live(self) -> Recorder:
        for subscription in self.subscriptions:
            await subscription
        return self

    def stop(self) -> RecordSummary:
        """Stop recording (the stream and its subscriptions stay), commit what was seen up
        to the last heartbeat, and return the summary."""
        for off in self._offs:
            off()
        self._offs = []
        with self._lock:
            self._commit()
        return self.summary

    # -- the feeds --------------------------------------------------------------------------
    def _live_keys(self) -> set[tuple[str, str | None]]:
        return {(feed, product) for feed, product, status in self.stream.subscriptions
                if status == "ready"}

    def _saw(self, at: int | None) -> None:
        if at is not None and (self._latest is None or at > self._latest):
            self._latest = at

    def _on_heartbeat(self, message: Message) -> None:
        at = message.time_ms if message.time_ms is not None else self._latest
        if at is None:
            return
        with self._lock:
            live = self._live_keys()
            for track in self._trades.values():
                if ("trade", track.symbol) not in live:
                    continue
                if track.start is None:
                    track.begin(at + 1, self.summary.gaps)
                track.extend(at + 1)
            for track in self._books.values():
                if ("book", track.symbol) not in live:
                    continue
                if track.start is None:  # the stream had the book before the recorder began
                    track.begin(at, self.summary.gaps)
                track.extend(at + 1)
                if at >= track.next_sample:
                    self._sample(track, at)
            if self._rolled is None:
                self._rolled = at
            elif at - self._rolled >= self.roll_ms:
                self._commit()
                self._rolled = at

    def _on_trade(self, message: Message) -> None:
        track = self._trades.get(message.symbol or "")
        if track is None:
            return
        rows = sorted(message.records, key=lambda r: int(r["time"]))
        with self._lock:
            if rows:
                self._saw(int(rows[-1]["time"]))
            if message.initial:
                self._trade_snapshot(track, rows)
                return
            for row in rows:
                if track.start is None:
                    track.begin(int(row["time"]), self.summary.gaps)
                self._keep(track, row)
                track.extend(int(row["time"]))

    def _trade_snapshot(self, track: _Track, rows: list[dict[str, Any]]) -> None:
        """The recent trades a (re)subscription starts with: continuous with what was seen
        when they reach back to it, else what lies between is a gap."""
        if not rows:
            track.cut()  # the next heartbeat or trade begins the span
            return
        oldest, newest = int(rows[0]["time"]), int(rows[-1]["time"])
        if track.end is None or oldest > track.end:
            track.cut()
            track.begin(oldest, self.summary.gaps)
        for row in rows:
            self._keep(track, row)
        track.extend(newest)

    def _keep(self, track: _Track, row: dict[str, Any]) -> None:
        """Buffer a trade unless seen (committed: before the span; buffered: by uid)."""
        at, uid = int(row["time"]), str(row["uid"])
        if track.start is None or at < track.start or uid in track.uids:
            return
        track.uids.add(uid)
        track.rows.append(row)

    def _on_book(self, message: Message) -> None:
        track = self._books.get(message.symbol or "")
        if track is None or message.time_ms is None:
            return
        at = message.time_ms
        if not message.initial:
            self._saw(at)  # one int, set on the stream's thread: no lock for every delta
            return
        with self._lock:
            self._saw(at)
            # a (fresh) snapshot: the book was unknown since the last heartbeat that saw it
            if track.end is None or at > track.end:
                track.cut()
                track.begin(at, self.summary.gaps)
            self._sample(track, at)
            track.extend(at + 1)

    def _sample(self, track: _Track, at: int) -> None:
        book = self.stream.book(track.symbol).frame(depth=self.depth)
        if not len(book):  # an empty book (a suspended market): nothing to keep
            return
        rows = book[["side", "level", "price", "size"]].copy()
        rows.index = pd.DatetimeIndex([pd.Timestamp(at, unit="ms", tz="UTC")] * len(rows),
                                      name="time").as_unit("ns")
        track.rows.append(rows)
        track.next_sample = (at // self.every_ms + 1) * self.every_ms
        self.summary.snapshots += 1
        self.summary.book_rows += len(rows)

    # -- committing -------------------------------------------------------------------------
    def _commit(self) -> None:
        """Write every track's spans so far; rows after them stay buffered."""
        for track in self._trades.values():
            self.summary.trade_rows += self._write(track, self._trade_frame(track.rows))
        for track in self._books.values():
            frame = pd.concat(track.rows) if track.rows else KINDS["book"].empty()
            self._write(track, frame.sort_index(kind="stable"))
        self.summary.rolls += 1

    @staticmethod
    def _trade_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
        template = KINDS["trades"].empty()
        if not rows:
            return template
        frame = frames.trades({"history": rows})
        frame.attrs.clear()
        return conform(frame, template)

    def _write(self, track: _Track, frame: pd.DataFrame) -> int:
        spans = track.spans()
        if not spans:
            return 0
        kind = KINDS[track.series.kind]
        times = times_ms(frame) if len(frame) else None
        written = 0
        with track.series.locked() as manifest:
            for start, end in spans:
                part = frame if times is None else frame[(times >= start) & (times < end)]
                written += track.series.commit(manifest, part, (start, end), [],
                                               kind.compression)
        done = spans[-1][1]
        track.closed = []
        if track.start is not None:
            track.start = track.end
        # keep what is newer than the committed spans (trades of the last millisecond)
        if track.series.kind == "trades":
            track.rows = [r for r in track.rows if int(r["time"]) >= done]
            track.uids = {str(r["uid"]) for r in track.rows}
        else:
            track.rows = [r for r in track.rows if r.index[0].value // 1_000_000 >= done]
        return written
