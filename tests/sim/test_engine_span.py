"""Quiet minutes taken at once (``Lifecycle.spans``) leave every account exactly as
stepping minute by minute does, on the synthetic market (which has no vectorised mark
read: the per-minute fallback) and in the SQLite paper ledger; ``quiet_until`` never
skips a minute where something happens.

The replay source's side (the vectorised read) is in ``tests/strategy/test_strategy_lazy.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kfresearch.sim.engine import Engine
from kfresearch.sim.ledger import Ledger
from kfresearch.sim.lifecycle import Lifecycle
from kfresearch.sim.market import SyntheticMarket
from kfresearch.sim.orders import OrderRequest
from kfresearch.sim.prices import Prices
from kfresearch.sim.sqlite_ledger import SqliteLedger

SYMBOL = "PF_XBTUSD"
ACCOUNT = "span"
MINUTE = 60_000
HOUR = 3_600_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


def _held(size: float, *, spans: bool, at: int = T0, ledger: Ledger | None = None) -> Engine:
    """An engine on the seeded synthetic market whose account bought ``size`` at ``at``."""
    engine = Engine(SyntheticMarket(42), seed=5, ledger=ledger)
    engine.lifecycle.spans = spans
    answer = engine.send_order(ACCOUNT, OrderRequest("mkt", SYMBOL, "buy", size), at)
    assert answer["status"] == "placed", answer
    return engine


def _steps(engine: Engine) -> Callable[[], int]:
    """Count the engine's full steps from now on; the counter."""
    count = 0
    full = engine.lifecycle._step

    def step(t0: int, t1: int) -> None:
        nonlocal count
        count += 1
        full(t0, t1)

    engine.lifecycle._step = step  # type: ignore[method-assign]
    return lambda: count


@pytest.mark.parametrize("size", [0.5, 3.0])
def test_a_span_in_one_call_is_minute_by_minute_on_the_synthetic_market(size: float) -> None:
    spanned, reference = _held(size, spans=True), _held(size, spans=False)
    full_steps = _steps(spanned)
    end = T0 + 7 * HOUR
    spanned.advance(end)
    for t in range(T0 + MINUTE, end + 1, MINUTE):
        reference.advance(t)
    acc, ref = spanned.accounts[ACCOUNT], reference.accounts[ACCOUNT]
    assert acc.positions[SYMBOL].size == size  # held throughout: no liquidation
    assert acc == ref  # wallets, positions (funding_accrued to the bit), log, history
    assert [e.info for e in acc.log].count("funding rate change") == 7
    assert full_steps() < 7 * 60 // 4  # it did skip: the hours and the band exits only


def test_a_span_from_and_to_times_off_the_minute_is_the_same() -> None:
    start, end = T0 + 17_250, T0 + 3 * HOUR + 29_500
    spanned, reference = _held(1.0, spans=True, at=start), _held(1.0, spans=False, at=start)
    spanned.advance(end)
    reference.advance(end)
    assert spanned.accounts[ACCOUNT] == reference.accounts[ACCOUNT]
    # and in pieces that end off the minute, as requests do
    pieces = _held(1.0, spans=True, at=start)
    piecewise = _held(1.0, spans=False, at=start)
    for t in range(start + 7 * MINUTE + 3_000, end, 23 * MINUTE + 11_000):
        pieces.advance(t)
        piecewise.advance(t)
    pieces.advance(end)
    piecewise.advance(end)
    assert pieces.accounts[ACCOUNT] == piecewise.accounts[ACCOUNT]


def test_the_paper_ledger_keeps_what_a_span_accrued(tmp_path: Path) -> None:
    path = tmp_path / "paper.sqlite"
    spanned = _held(1.0, spans=True, ledger=SqliteLedger(path, balance=50_000.0))
    reference = _held(1.0, spans=False, ledger=SqliteLedger(tmp_path / "ref.sqlite",
                                                              balance=50_000.0))
    end = T0 + 2 * HOUR + 37 * MINUTE  # ends inside an hour: funding accrued, not realised
    spanned.advance(end)
    for t in range(T0 + MINUTE, end + 1, MINUTE):
        reference.advance(t)
    held, expected = spanned.accounts[ACCOUNT].positions, reference.accounts[ACCOUNT].positions
    assert held[SYMBOL].funding_accrued != 0.0
    assert held == expected
    reread = SqliteLedger(path)
    assert reread.accounts[ACCOUNT].positions == held
    assert reread.accounts[ACCOUNT].wallets == spanned.accounts[ACCOUNT].wallets


def test_quiet_until_skips_no_minute_where_something_happens() -> None:
    engine = _held(3.0, spans=False)
    acc = engine.accounts[ACCOUNT]
    horizon = T0 + 5 * HOUR
    seen, skipped = (len(acc.log), len(acc.fills), len(acc.orders)), 0
    for t in range(T0 + MINUTE, horizon + 1, MINUTE):
        due = engine.quiet_until(horizon)
        assert t <= due <= horizon
        engine.advance(t)
        now = (len(acc.log), len(acc.fills), len(acc.orders))
        if t < due:
            skipped += 1
            assert now == seen, t
        seen = now
    assert skipped > 4 * 50  # most minutes of each hour were quiet


def test_with_an_open_order_every_minute_is_stepped() -> None:
    engine = _held(1.0, spans=True)
    far = OrderRequest("lmt", SYMBOL, "buy", 0.001, 1_000.0)
    assert engine.send_order(ACCOUNT, far, T0)["status"] == "placed"
    full_steps = _steps(engine)
    assert engine.quiet_until(T0 + HOUR) == T0 + MINUTE
    engine.advance(T0 + HOUR)
    assert full_steps() == 60


def test_spans_are_on_by_default() -> None:
    assert Lifecycle.spans is True


@pytest.mark.parametrize("vectorised", [True, False])
@pytest.mark.parametrize(
    ("marks", "expected"),
    [([], 0), ([1.0], 1), ([5.0], 0), ([1.0, 2.0, 5.0, 1.0], 2), ([1.0, float("nan"), 1.0], 1),
     ([0.5, 2.0], 2), ([0.4999, 1.0], 0)],
)
def test_the_first_mark_outside_a_band(marks: list[float], expected: int,
                                       vectorised: bool) -> None:
    class Marks:
        def mark_price(self, symbol: str, t_ms: int) -> float:
            return marks[t_ms]

    class Vectorised(Marks):
        def mark_prices(self, symbol: str, times_ms: np.ndarray) -> np.ndarray:
            return np.array([marks[t] for t in times_ms.tolist()], dtype=float)

    prices = Prices(Vectorised() if vectorised else Marks())  # type: ignore[arg-type]
    times = np.arange(len(marks), dtype=np.int64)
    assert prices.first_mark_outside(SYMBOL, 0.5, 2.0, times) == expected
