"""OrderResult's fill numbers: exact filled size, the economic average price of inverse fills."""

from __future__ import annotations

from typing import Any

import pytest

import kfresearch
from kfresearch.orders.results import result_from_fills, result_from_status
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange


def _executions(*fills: tuple[float, float]) -> dict[str, Any]:
    events = [{"type": "EXECUTION", "price": p, "amount": a} for p, a in fills]
    return {"status": "placed", "order_id": "o1", "orderEvents": events}


def test_filled_is_the_exact_sum_of_the_executions() -> None:
    # 0.1 + 9.2 + 0.7 is 9.999999999999998 in floats
    assert 0.1 + 9.2 + 0.7 != 10.0
    result = result_from_status("send", _executions((100.0, 0.1), (101.0, 9.2), (102.0, 0.7)))
    assert result.filled == 10.0
    rows = [{"fill_id": str(i), "order_id": "o1", "size": s, "price": 1.0, "fillTime": "2026"}
            for i, s in enumerate((0.1, 0.2))]
    assert result_from_fills(rows).filled == 0.3


def test_inverse_average_is_contracts_over_coin() -> None:
    """10,000 USD contracts bought as 5,000 at 20,000 and 5,000 at 30,000 (reference §7.3).

    Coin paid: 5,000/20,000 + 5,000/30,000 = 0.41666… XBT, so the average
    price is 10,000 / 0.41666… = 24,000, not the size-weighted 25,000.
    """
    body = _executions((20_000.0, 5_000.0), (30_000.0, 5_000.0))
    inverse = result_from_status("send", {**body, "orderEvents": body["orderEvents"]})
    inverse = type(inverse)(**{**inverse.__dict__, "symbol": "PI_XBTUSD"})
    assert inverse.avg_fill_price == pytest.approx(24_000.0, abs=1e-9)
    linear = type(inverse)(**{**inverse.__dict__, "symbol": "PF_XBTUSD"})
    assert linear.avg_fill_price == pytest.approx(25_000.0, abs=1e-9)


def test_placed_orders_report_exact_fills_and_the_positions_entry() -> None:
    kf = kfresearch.connect(
        "sim", exchange=SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    )
    linear = kf.place_order("PF_XBTUSD", "buy", 3, order_type="mkt")
    assert len(linear.fills) > 1  # walked several levels
    assert linear.filled == linear.size == 3.0
    inverse = kf.place_order("PI_XBTUSD", "buy", 90_000, order_type="mkt")
    assert len(inverse.fills) > 1
    assert inverse.filled == inverse.size
    contracts = sum(s for _, s in inverse.fills)
    coin = sum(s / p for p, s in inverse.fills)
    assert inverse.avg_fill_price == pytest.approx(contracts / coin, rel=1e-15)
    # the position's entry price is that same average (the exchange's harmonic mean)
    entry = kf.positions().loc["PI_XBTUSD", "entry_price"]
    assert inverse.avg_fill_price == pytest.approx(entry, rel=1e-12)
