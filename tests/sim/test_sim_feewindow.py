"""The rolling 30-day fee volume (FeeWindow) gives exactly what a scan of the fills gives,
so a fill's fee tier costs the same however many fills the last 30 days hold."""

from __future__ import annotations

import math
import random

import pytest

from kfresearch.sim.accounts import Fill
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.feewindow import FeeWindow
from kfresearch.sim.keys import SIM_ACCOUNT_ID
from kfresearch.sim.orders import OrderRequest

WINDOW_MS = 10_000


def _fill(rng: random.Random, t_ms: int) -> Fill:
    size = rng.uniform(1e-4, 3.0) * 10 ** rng.randint(-3, 3)  # sizes far apart: fsum matters
    return Fill(
        "f", "o", None, rng.choice("ABC"), "buy", size, rng.uniform(1, 1e5), t_ms,
        "taker", 0.0, 0.0, "USD", "mkt", 0.0,
    )  # fmt: skip


def _scanned(fills: list[Fill], end_ms: int) -> dict[str, float]:
    """The fee volumes by a backward scan of the fills: what the engine computed before."""
    parts: dict[str, list[float]] = {}
    for fill in reversed(fills):
        if fill.time_ms <= end_ms - 1 - WINDOW_MS:
            break
        if fill.time_ms < end_ms:
            parts.setdefault(fill.symbol, []).append(fill.quantity * fill.price)
    return {uid: math.fsum(values) for uid, values in parts.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_window_equals_a_scan_bit_for_bit_and_in_order(seed: int) -> None:
    """Fills at random times (several at one instant), asked at ends that move forward, stay,
    and step back by one (fee_tier asks at now, fee_volumes at now + 1)."""
    rng = random.Random(seed)
    fills: list[Fill] = []
    window = FeeWindow(fills, WINDOW_MS, lambda fill: (fill.symbol, fill.quantity * fill.price))
    t = 0
    for _ in range(3_000):
        t += rng.choice([0, 0, 1, 50, 700, 3_000, 12_000])
        if rng.random() < 0.6:
            fills.append(_fill(rng, t))
        end = t + rng.choice([0, 1, -1, 2, 5_000])
        got, expected = window.volumes(end), _scanned(fills, end)
        assert got == expected
        assert list(got) == list(expected)  # schedules newest first, as the scan found them
    assert len(fills) > 1_500


def test_fee_volumes_follow_the_fills_of_the_last_30_days() -> None:
    """Through the engine: volumes grow with each fill and drop once a fill is 30 days old."""
    ex = SimExchange(seed=3, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    engine, now = ex.engine, ex.clock.now_ms()
    for side in ("buy", "sell"):
        answer = engine.send_order(SIM_ACCOUNT_ID, OrderRequest("mkt", "PF_XBTUSD", side, 0.01), now)
        assert answer["status"] == "placed"
    acc = engine.accounts[SIM_ACCOUNT_ID]
    notional = math.fsum(f.quantity * f.price for f in acc.fills)
    ((uid, volume),) = engine.fee_volumes(SIM_ACCOUNT_ID, now).items()
    assert volume == notional
    month = 30 * 24 * 3_600_000
    assert engine.fee_volumes(SIM_ACCOUNT_ID, now + month - 1) == {uid: volume}
    assert engine.fee_volumes(SIM_ACCOUNT_ID, now + month) == {}
