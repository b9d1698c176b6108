"""The recorder keeps book snapshots and the trade tape in the store, a file per roll."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import kfresearch
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.store import Recorder, Store

from .conftest import NOW


def test_fifteen_minutes_of_recording_roll_every_five(tmp_path: Path) -> None:
    exchange = SimExchange(seed=4, clock=SimClock.fixed(NOW))
    kf = kfresearch.Client("sim", sim=exchange)
    elapsed = 0.0

    def sleep(seconds: float) -> None:
        nonlocal elapsed
        elapsed += seconds
        exchange.clock.advance(seconds * 1000)

    recorder = Recorder(
        kf,
        tmp_path,
        "PF_ETHUSD",
        poll=10,
        roll=300,
        depth=5,
        sleep=sleep,
        monotonic=lambda: elapsed,
    )
    summary = recorder.run(duration=900)
    assert summary.snapshots == 90
    assert summary.book_rows == 90 * 10
    assert summary.rolls == 3  # at 5 and 10 minutes, then the final commit
    store = Store(tmp_path)
    book = store.read("book", symbol="PF_ETHUSD")
    assert len(book) == 900
    assert book.index.nunique() == 90
    assert book.index[0] == pd.Timestamp(NOW)
    assert list(book.columns) == ["side", "level", "price", "size"]
    first = book.loc[pd.Timestamp(NOW)]
    expected = exchange.market.book("PF_ETHUSD", int(pd.Timestamp(NOW).value // 10**6), 5)
    assert first["price"].tolist() == [p for p, _ in expected[0]] + [p for p, _ in expected[1]]
    files = sorted((tmp_path / "book").rglob("*.parquet"))
    assert len(files) == 3
    # the tape: every trade of the recorded minutes, once
    tape = store.read("trades", symbol="PF_ETHUSD")
    assert summary.trade_rows == len(tape) > 0
    assert tape.index.is_monotonic_increasing
    assert tape["uid"].is_unique
    direct = kf.trades(
        "PF_ETHUSD", since=NOW, until=tape.index[-1] + pd.Timedelta(1, "ms"), progress=False
    )
    pd.testing.assert_frame_equal(tape, direct)
    # book snapshots are summed up by SQL like any kind
    per_side = store.sql("select side, count(*) as n from book group by 1 order by 1")
    assert per_side["n"].tolist() == [450, 450]


def test_store_record_keeps_a_snapshot_when_stopped_at_once(tmp_path: Path) -> None:
    kf = kfresearch.Client("sim", sim=SimExchange(seed=4, clock=SimClock.fixed(NOW)))
    summary = Store(tmp_path, kf, progress=False).record("PF_XBTUSD", trades=False, duration=0)
    assert summary.snapshots == 0
    assert "recorded PF_XBTUSD: 0 book snapshots" in str(summary)
