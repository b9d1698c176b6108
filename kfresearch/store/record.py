"""The recorder: keep the live trade tape and book snapshots of a contract in the store.

Data the exchange will not serve later (book snapshots are never served for
the past; trades and candles may not outlive the REST API, reference
``kraken-unified-ws.md`` §2, §5) is written as it happens, in the same
dataset as downloads:

* **book**: a snapshot of the top ``depth`` levels every ``poll`` seconds
  (REST ``orderbook``), one row per level: ``side``, ``level``, ``price``,
  ``size``, indexed by the snapshot's server ``time``;
* **trades**: every ``roll`` seconds, the public trades since the last roll
  (REST market history), committed exactly like a download, so recorded and
  downloaded trades never overlap.

Every ``roll`` seconds (default 5 minutes) the buffered snapshots become a
new file (one per UTC day they span) and the manifest is committed, so a
killed recorder loses at most one roll. Ctrl-C commits what is buffered and
returns.

This polls REST. A WebSocket feed (``kfresearch.stream``) would see every
book change rather than one snapshot per ``poll``; it is not used yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from kfresearch.store.download import ensure
from kfresearch.store.kinds import KINDS
from kfresearch.store.manifest import Series

if TYPE_CHECKING:
    from kfresearch.client import Client

__all__ = ["RecordSummary", "Recorder"]


@dataclass
class RecordSummary:
    """What a recording kept: snapshots and their rows, trades, and files written."""

    symbol: str
    snapshots: int = 0
    book_rows: int = 0
    trade_rows: int = 0
    rolls: int = 0

    def __str__(self) -> str:
        return (
            f"recorded {self.symbol}: {self.snapshots} book snapshots ({self.book_rows:,} rows), "
            f"{self.trade_rows:,} trades, {self.rolls} rolls"
        )


class Recorder:
    """Polls one contract and commits to the store every ``roll`` seconds (see the module)."""

    def __init__(
        self,
        kf: Client,
        root: Path,
        symbol: str,
        *,
        trades: bool = True,
        book: bool = True,
        poll: float = 5.0,
        roll: float = 300.0,
        depth: int = 25,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kf = kf
        self.symbol = symbol
        self.trades = trades
        self.book = book
        self.poll = poll
        self.roll = roll
        self.depth = depth
        self.sleep = sleep
        self.monotonic = monotonic
        self._book = Series(root, "book", {"symbol": symbol})
        self._tape = Series(root, "trades", {"symbol": symbol})
        self._buffer: list[pd.DataFrame] = []
        self._trades_from: int | None = None
        self.summary = RecordSummary(symbol)

    def _now_ms(self) -> int:
        if self.kf.env.in_process:
            return self.kf.sim.clock.now_ms()
        return int(time.time() * 1000)

    def snapshot(self) -> int:
        """Take one book snapshot into the buffer; returns its server time in ms."""
        book = self.kf.orderbook(self.symbol, depth=self.depth)
        stamp = book.attrs.get("server_time")
        at = pd.Timestamp(stamp) if stamp is not None else pd.Timestamp.now(tz="UTC")
        rows = book[["side", "level", "price", "size"]].copy()
        rows.index = pd.DatetimeIndex([at] * len(rows), name="time").as_unit("ns")
        self._buffer.append(rows)
        self.summary.snapshots += 1
        self.summary.book_rows += len(rows)
        return int(at.value // 1_000_000)

    def commit(self, start_ms: int, end_ms: int) -> None:
        """Write the buffered snapshots and the trades of ``[start_ms, end_ms)``."""
        kind = KINDS["book"]
        if self.book and end_ms > start_ms:
            frame = pd.concat(self._buffer) if self._buffer else kind.empty()
            rows = frame.sort_index(kind="stable")
            with self._book.locked() as manifest:
                self._book.commit(manifest, rows, (start_ms, end_ms), [], kind.compression)
            self._buffer = []
        if self.trades:
            trades = KINDS["trades"]
            begin = start_ms if self._trades_from is None else self._trades_from
            final = trades.final_end({}, end_ms)
            done = ensure(self.kf, self._tape, trades, (begin, final), progress=False)
            self.summary.trade_rows += done.rows
            self._trades_from = max(begin, final)
        self.summary.rolls += 1

    def run(self, duration: float | None = None) -> RecordSummary:
        """Record for ``duration`` seconds (None: until Ctrl-C); returns what was kept.

        Durations are measured on this machine's clock; the rows carry the
        exchange's times.
        """
        segment = self._now_ms()
        started = last_roll = self.monotonic()
        try:
            while duration is None or self.monotonic() - started < duration:
                if self.book:
                    self.snapshot()
                if self.monotonic() - last_roll >= self.roll:
                    now = self._now_ms()
                    self.commit(segment, now + 1)
                    segment, last_roll = now + 1, self.monotonic()
                self.sleep(self.poll)
        except KeyboardInterrupt:
            pass
        self.commit(segment, self._now_ms() + 1)
        return self.summary
