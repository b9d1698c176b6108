"""A backtest knows every bar in advance (``ReplayVenue.history``): the context reads its
recent bars from the venue's arrays and the tally finds the closes at its marks at the
end, instead of copying each bar as it comes. Strategies see exactly what the plain
path (``ReplayVenue.known = False``: a ring buffer filled bar by bar, closes noted at
every mark) gives them, never a bar they have not been handed, and the results are
the same to the bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kfresearch.errors import ValidationError
from kfresearch.store import Store
from kfresearch.strategy import Bar, Context, Fill, Funding, Result, Strategy, backtest
from kfresearch.strategy.backtests import ReplayVenue
from kfresearch.strategy.context import _Bars, _GivenBars
from kfresearch.strategy.driver import History
from kfresearch.strategy.events import Fill as FillEvent
from kfresearch.strategy.tally import Tally

from .conftest import SYMBOL, SmaCross, write_market

START = pd.Timestamp("2026-09-30T23:59:00Z")
MINUTE = pd.Timedelta(minutes=1)
FRAMES = ("equity", "positions", "fills", "orders", "funding")


class Peeker(Strategy):
    """Trades a small crossover and notes everything it can read of the history, at
    every hook: ``ctx.closes`` (last 3, last ``keep``+1, all) and ``ctx.bars``."""

    def __init__(self, keep: int) -> None:
        self.keep = keep

    def on_start(self, ctx: Context) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self.handed: list[Bar] = []
        self._note(ctx, "start")

    def _note(self, ctx: Context, hook: str) -> None:
        frame = ctx.bars(SYMBOL)
        self.seen.append((
            hook,
            ctx.closes(SYMBOL, 3).copy(),
            ctx.closes(SYMBOL, self.keep + 1).copy(),
            ctx.closes(SYMBOL).copy(),
            frame.to_numpy().copy(),
            frame.index.asi8.copy(),
            ctx.equity,
        ))

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        self.handed.append(bar)
        closes = ctx.closes(bar.symbol)
        # the bar just handed over is the last one shown; nothing after it
        assert closes[-1] == bar.close
        assert len(closes) == min(len(self.handed), self.keep)
        assert ctx.bars(bar.symbol, 1).index[-1] == bar.start
        assert not closes.flags.writeable
        self._note(ctx, "bar")
        n = len(self.handed)
        recent = ctx.closes(bar.symbol, 3)
        if n % 7 == 3:
            ctx.order_target(bar.symbol, 0.4 if recent[-1] >= recent[0] else -0.3)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        self._note(ctx, "fill")

    def on_funding(self, ctx: Context, funding: Funding) -> None:
        self._note(ctx, "funding")

    def on_stop(self, ctx: Context) -> None:
        self._note(ctx, "stop")


def _market(root: Path, minutes: int, seed: int = 5) -> pd.Timestamp:
    rng = np.random.default_rng(seed)
    closes = np.round(100_000.0 * np.exp(np.cumsum(rng.normal(0, 0.001, minutes))), 1)
    hours = pd.date_range(START.floor("h"), START + minutes * MINUTE, freq="1h")
    write_market(root, START, closes.tolist(), {h: float(rng.normal(2.0, 4.0)) for h in hours})
    return START + minutes * MINUTE


def _run(strategy: Strategy, root: Path, until: pd.Timestamp, *, known: bool, keep: int,
         monkeypatch: pytest.MonkeyPatch) -> Result:
    with monkeypatch.context() as patch:
        patch.setattr(ReplayVenue, "known", known)
        return backtest(strategy, Store(root), SYMBOL, START, until, seed=3, keep=keep)


def _same_seen(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> None:
    assert len(a) == len(b)
    for left, right in zip(a, b, strict=True):
        assert left[0] == right[0]
        for x, y in zip(left[1:-1], right[1:-1], strict=True):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y, strict=True)
        assert left[-1] == right[-1]


@pytest.mark.parametrize("keep", [5, 64, 10_000])
def test_the_known_history_shows_what_the_ring_buffer_shows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int) -> None:
    # 200 bars: keep=5 and keep=64 wrap the ring buffer (2 x keep, at least 64) more than once
    until = _market(tmp_path, 200)
    known = _run(Peeker(keep), tmp_path, until, known=True, keep=keep, monkeypatch=monkeypatch)
    plain = _run(Peeker(keep), tmp_path, until, known=False, keep=keep, monkeypatch=monkeypatch)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(known, name), getattr(plain, name),
                                      check_exact=True)
    pd.testing.assert_series_equal(known.stats, plain.stats, check_exact=True)
    seen, reference = known.strategy.seen, plain.strategy.seen  # type: ignore[attr-defined]
    _same_seen(seen, reference)
    hooks = {hook for hook, *_ in seen}
    assert {"start", "bar", "fill", "funding", "stop"} <= hooks
    assert len(known.fills) > 10
    # on_start: nothing yet; fills of a bar's orders come after it, the next bar's before it
    assert seen[0][3].size == 0
    assert known.strategy.handed == plain.strategy.handed  # type: ignore[attr-defined]


def test_the_bench_rule_gives_the_same_answers(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    until = _market(tmp_path, 600, seed=9)
    rule = SmaCross(fast=5, slow=30, size=0.2)
    known = _run(rule, tmp_path, until, known=True, keep=10_000, monkeypatch=monkeypatch)
    plain = _run(rule, tmp_path, until, known=False, keep=10_000, monkeypatch=monkeypatch)
    assert len(known.fills) > 10
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(known, name), getattr(plain, name),
                                      check_exact=True)


def _history(starts: list[int], closes: list[float], step: int = 60_000) -> History:
    start_ms = np.asarray(starts, dtype=np.int64)
    rows = np.asarray([[c + 1 for c in closes], [c + 2 for c in closes], [c - 2 for c in closes],
                       closes, [0.5] * len(closes)], dtype=float)
    return History(start_ms, start_ms + step, rows)


def test_given_bars_never_show_a_bar_not_handed_over() -> None:
    history = _history([0, 60_000, 120_000, 180_000], [10.0, 11.0, 12.0, 13.0])
    given, plain = _GivenBars(2, history), _Bars(2)
    for i in range(4):
        for kept in (given, plain):
            assert kept.shown[kept.first(None) : kept.count].tolist() == (
                [10.0, 11.0, 12.0, 13.0][max(0, i - 2) : i])
        bar = Bar("X", int(history.start_ms[i]), int(history.end_ms[i]),
                  *history.columns[:, i].tolist())
        given.add(bar)
        plain.add(bar)
    with pytest.raises(ValidationError, match="more bars than its history"):
        given.add(bar)
    with pytest.raises(ValueError, match="read-only"):
        given.shown[0] = 1.0


def test_tally_marks_from_the_history_equal_the_noted_closes() -> None:
    # two symbols with holes: A has no bar at 2 and 5, B starts at 3; fills in both
    step = 60_000
    a = _history([0, step, 3 * step, 4 * step, 6 * step], [100.0, 101.5, 99.25, 102.0, 98.5])
    b = _history([3 * step, 4 * step, 5 * step, 6 * step], [20.0, 20.5, 19.75, 21.0])
    history = {"A": a, "B": b}
    noted = Tally(("A", "B"), 1_000.0)
    found = Tally(("A", "B"), 1_000.0, history=history)
    fills = {2 * step: ("A", "buy", 0.3, 101.0), 4 * step: ("B", "sell", 2.0, 20.1),
             6 * step: ("A", "sell", 0.1, 102.5), 7 * step: ("B", "buy", 2.0, 21.2)}
    for end in range(step, 8 * step, step):
        for tally in (noted, found):
            for symbol, known in history.items():
                hit = np.flatnonzero(known.end_ms == end)
                if hit.size:
                    tally.closes[symbol] = float(known.columns[3][hit[0]])
            if end in fills:
                symbol, side, size, price = fills[end]
                tally.add_fill(FillEvent(pd.Timestamp(end, unit="ms", tz="UTC"), symbol, side,
                                         size, price, 0.01, "USD", "taker", "o", None, f"f{end}"))
            tally.mark(end)
        assert found.equity == noted.equity
    pd.testing.assert_frame_equal(found.equity_frame(), noted.equity_frame(), check_exact=True)
    pd.testing.assert_frame_equal(found.positions_frame(), noted.positions_frame(),
                                  check_exact=True)
    assert found.equity_frame()["equity_usd"].iloc[-1] == noted.equity


@pytest.mark.parametrize("count", [0, 1, 5])
def test_the_fills_frame_is_the_frame_of_the_fills_rows(count: int) -> None:
    from kfresearch.strategy.tally import _FILL_COLUMNS

    tally = Tally(("A", "B"), 1_000.0)
    for k in range(count):
        tally.add_fill(FillEvent(pd.Timestamp(60_000 * k, unit="ms", tz="UTC"), "AB"[k % 2],
                                 "buy" if k % 3 else "sell", 0.1 * (k + 1), 100.0 / 3 + k,
                                 0.013 * k, "USD" if k != 2 else "XBT", "taker" if k else "maker",
                                 f"o{k}", None if k % 2 else f"c{k}", f"f{k}"))
    rows = pd.DataFrame([fill.row() for fill in tally.fills], columns=list(_FILL_COLUMNS))
    rows.index = pd.DatetimeIndex([fill.time for fill in tally.fills], name="time", tz="UTC")
    pd.testing.assert_frame_equal(tally.fills_frame(), rows.astype(_FILL_COLUMNS),
                                  check_exact=True)
