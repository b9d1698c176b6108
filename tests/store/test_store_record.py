"""The recorder keeps the stream's trade tape and book snapshots in the store, and records what
a reconnect lost as a gap (the simulator's ``ws_drop`` fault, in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import StoreError, ValidationError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.store import Gap, Recorder, Store
from kfresearch.stream import Message, Stream

from .conftest import NOW

SYMBOL = "PF_XBTUSD"
T0 = int(pd.Timestamp(NOW).value // 1_000_000)
STEP = 5_000  # the simulator's heartbeat period


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _run(kf: kfresearch.Client, s: Stream, ms: int, step: int = STEP) -> int:
    """Move the exchange's clock by ``ms`` in steps, the stream keeping up; returns the time."""
    for _ in range(ms // step):
        kf.sim.advance(step)
        s.sync()
    return int(kf.sim.clock.now_ms())


def _uids(kf: kfresearch.Client, start: int, end: int) -> list[str]:
    return kf.trades(SYMBOL, since=start, until=end, progress=False)["uid"].tolist()


def test_reconnects_keep_the_tape_whole_or_record_the_gap(tmp_path: Path) -> None:
    exchange = SimExchange(seed=4, clock=SimClock.fixed(NOW))
    kf = kfresearch.Client("sim", exchange=exchange)
    store = Store(tmp_path, kf, progress=False)
    recent = kf.trades(SYMBOL, since=T0 - 3_600_000, until=T0 + 1, progress=False)
    first = int(recent.index[-100].value // 1_000_000)  # the feed's snapshot: the last 100
    with kf.stream(backoff=(0.01, 0.05)) as s:
        rec = store.recorder(s, SYMBOL, every=10, roll=60, depth=5)
        t1 = _run(kf, s, 120_000)
        # a short outage: the snapshot after the reconnect reaches back, no trade is lost
        exchange.faults.add(Fault("ws_drop", path="/ws/v1/trade", count=1))
        t2 = _run(kf, s, 60_000, step=60_000)
        t3 = _run(kf, s, 60_000)
        # a long one: more trades than the snapshot holds
        exchange.faults.add(Fault("ws_drop", path="/ws/v1/trade", count=1))
        t4 = _run(kf, s, 1_200_000, step=1_200_000)
        t5 = _run(kf, s, 60_000)
        summary = rec.stop()
        stats = s.stats()
    assert stats["reconnects"] == 2
    assert stats["callback_errors"] == 0
    after = kf.trades(SYMBOL, since=t4 - 3_600_000, until=t4 + 1, progress=False)
    oldest = int(after.index[-100].value // 1_000_000)
    assert oldest > t3 + 1
    assert summary.gaps == [
        Gap("book", SYMBOL, t1 + 1, t2),
        Gap("book", SYMBOL, t3 + 1, t4),  # the stream asks for books first
        Gap("trades", SYMBOL, t3 + 1, oldest),
    ]
    assert "3 gaps (not seen): book PF_XBTUSD" in str(summary)
    # the tape: every trade of what was seen, once, as the exchange serves them
    tape = store.read("trades", symbol=SYMBOL)
    assert tape["uid"].tolist() == _uids(kf, first, t3 + 1) + _uids(kf, oldest, t5 + 1)
    assert summary.trade_rows == len(tape)
    direct = kf.trades(SYMBOL, since=first, until=t5 + 1, progress=False)
    seen = direct[direct["uid"].isin(set(tape["uid"]))]
    pd.testing.assert_frame_equal(
        tape[["uid", "price", "size", "side"]], seen[["uid", "price", "size", "side"]]
    )
    # the holes are visible and the lost trades are downloaded while the exchange has them
    info = store.info().set_index("kind")
    assert info.loc["trades", "holes"] == 1
    assert info.loc["trades", "hole_ranges"] == [(_stamp(t3 + 1), _stamp(oldest))]
    assert info.loc["book", "hole_ranges"] == [
        (_stamp(t1 + 1), _stamp(t2)), (_stamp(t3 + 1), _stamp(t4))
    ]
    whole = store.trades(SYMBOL, since=first, until=t5 - 60_000)
    assert [s.fetched for s in store.last_summaries] == [[(t3 + 1, oldest)]]
    assert whole["uid"].tolist() == _uids(kf, first, t5 - 60_000)
    # book snapshots: the first, every 10 s on the exchange's clock, and each fresh book
    book = store.read("book", symbol=SYMBOL)
    times = sorted({int(t.value // 1_000_000) for t in book.index})
    expected = [T0, *range(T0 + 10_000, t1 + 1, 10_000), t2, *range(t2 + 10_000, t3 + 1, 10_000),
                t4, *range(t4 + 10_000, t5 + 1, 10_000)]
    assert times == expected
    assert summary.snapshots == len(expected)
    assert len(book) == summary.book_rows == 10 * len(expected)
    bids, asks = exchange.market.book(SYMBOL, t3, 5)
    at_t3 = book.loc[_stamp(t3)]
    assert at_t3["price"].tolist() == [p for p, _ in bids] + [p for p, _ in asks]
    assert at_t3["size"].tolist() == [q for _, q in bids] + [q for _, q in asks]


def test_feeds_the_stream_had_already_are_recorded_from_the_next_message(
    tmp_path: Path,
) -> None:
    exchange = SimExchange(seed=4, clock=SimClock.fixed(NOW))
    kf = kfresearch.Client("sim", exchange=exchange)
    store = Store(tmp_path, kf, progress=False)
    with kf.stream() as s:
        s.subscribe("book", SYMBOL)
        s.subscribe("trade", SYMBOL)
        _run(kf, s, 10_000)
        rec = store.recorder(s, SYMBOL, every=5, depth=3)
        end = _run(kf, s, 20_000)
        summary = rec.stop()
    assert summary.gaps == []
    book = store.read("book", symbol=SYMBOL)
    assert sorted({int(t.value // 1_000_000) for t in book.index}) == list(
        range(T0 + 15_000, end + 1, 5_000)
    )
    # the tape starts at the first trade after the recorder began, before that heartbeat
    tape = store.read("trades", symbol=SYMBOL)
    assert tape["uid"].tolist() == _uids(kf, T0 + 10_001, end + 1)


def test_a_notebook_awaits_the_recorder(tmp_path: Path) -> None:
    exchange = SimExchange(seed=4, clock=SimClock.fixed(NOW))
    kf = kfresearch.Client("sim", exchange=exchange)
    store = Store(tmp_path, kf, progress=False)

    async def main() -> str:
        s = kf.stream()
        rec = await store.recorder(s, ["PF_XBTUSD", "PF_ETHUSD"], trades=False, every=60,
                                   roll=60)
        for _ in range(24):
            kf.sim.advance(STEP)
            await s.sync()
        summary = rec.stop()
        await s.close()
        return str(summary)

    text = asyncio.run(main())
    assert text == (
        "recorded PF_XBTUSD, PF_ETHUSD: 6 book snapshots (300 rows), 0 trades, 3 rolls, no gaps"
    )
    info = store.info()
    assert info["kind"].tolist() == ["book", "book"]
    assert info["holes"].tolist() == [0, 0]
    assert not (tmp_path / "trades").exists()


def test_record_blocks_in_scripts_only(tmp_path: Path) -> None:
    kf = kfresearch.Client("sim", exchange=SimExchange(seed=4, clock=SimClock.fixed(NOW)))
    store = Store(tmp_path, kf, progress=False)

    async def in_a_notebook() -> None:
        store.record(SYMBOL, duration=0)

    with pytest.raises(StoreError, match=r"await store\.recorder"):
        asyncio.run(in_a_notebook())
    with pytest.raises(ValidationError, match="trades, book or both"):
        store.record(SYMBOL, trades=False, book=False, duration=0)
    summary = store.record(SYMBOL, trades=False, duration=0)
    assert str(summary).startswith("recorded PF_XBTUSD: 1 book snapshots (50 rows)")


class _Feed:
    """What the recorder uses of a stream, driven by hand: a protocol whose heartbeat carries
    no time (the Unified WebSocket's)."""

    def __init__(self) -> None:
        self.callbacks: dict[str, Callable[[Message], None]] = {}
        self.subscriptions = [("heartbeat", None, "ready"), ("book", SYMBOL, "ready"),
                              ("trade", SYMBOL, "ready")]
        self.bid = 100.0

    def on(self, feed: str, fn: Callable[[Message], None], *, initial: bool) -> Callable[[], None]:
        self.callbacks[feed] = fn
        return lambda: None

    def subscribe(self, feed: str, products: Any = None) -> None:
        return None

    def book(self, symbol: str) -> _Feed:
        return self

    def frame(self, depth: int) -> pd.DataFrame:
        return pd.DataFrame({"side": ["bid", "ask"], "level": [1, 1],
                             "price": [self.bid, self.bid + 1], "size": [1.0, 2.0]})

    def send(self, feed: str, at: int | None, initial: bool = False, **record: Any) -> None:
        records = (record,) if record else ()
        symbol = None if feed == "heartbeat" else SYMBOL
        self.callbacks[feed](Message(feed, symbol, initial, records, at))


def test_a_heartbeat_without_a_time_stands_for_the_latest_time_seen(tmp_path: Path) -> None:
    feed = _Feed()
    rec = Recorder(cast(Stream, feed), tmp_path, [SYMBOL], every=5, roll=60, depth=1).start()
    trade = {"trade_id": 1, "price": 100.5, "size": 0.1, "side": "buy", "type": "fill",
             "symbol": SYMBOL}
    feed.send("book", T0 + 1_000, initial=True)
    feed.send("trade", None, initial=True, time=T0 + 900, uid="a", **trade)
    feed.send("heartbeat", None)  # the latest time seen: the book's snapshot
    feed.send("trade", T0 + 4_000, time=T0 + 4_000, uid="b", **trade)
    feed.bid = 101.0
    feed.send("book", T0 + 6_000)  # a delta
    feed.send("heartbeat", None)
    summary = rec.stop()
    assert summary.gaps == []
    store = Store(tmp_path)
    book = store.read("book", symbol=SYMBOL)
    assert book.index.tolist() == [_stamp(T0 + 1_000)] * 2 + [_stamp(T0 + 6_000)] * 2
    assert book["price"].tolist() == [100.0, 101.0, 101.0, 102.0]
    assert store.read("trades", symbol=SYMBOL)["uid"].tolist() == ["a", "b"]
    info = store.info().set_index("kind")
    assert info.loc["trades", "start"] == _stamp(T0 + 900)
    assert info.loc["trades", "end"] == info.loc["book", "end"] == _stamp(T0 + 6_001)
