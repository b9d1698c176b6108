"""Prices and sizes on a contract's grid: checks and rounding the engine shares.

>>> on_grid(50_000.5, 0.5), on_grid(50_000.25, 0.5)
(True, False)
"""

from __future__ import annotations

import math

from kfresearch.sim.formats import dec
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.orders import Order

__all__ = ["on_grid", "round_price", "trailing_stop_price"]


def _decimals(step: float) -> int:
    return len(dec(step).partition(".")[2])


def on_grid(value: float, step: float) -> bool:
    """Whether ``value`` is a whole number of ``step`` (up to float noise)."""
    units = value / step
    return abs(units - round(units)) < 1e-7


def round_price(spec: InstrumentSpec, price: float, *, down: bool) -> float:
    """``price`` on the contract's tick, rounded down (or up) to the next tick."""
    units = price / spec.tick_size
    snapped = math.floor(units + 1e-9) if down else math.ceil(units - 1e-9)
    return round(snapped * spec.tick_size, _decimals(spec.tick_size))


def trailing_stop_price(order: Order, spec: InstrumentSpec) -> float:
    """A trailing stop's price: ``max_deviation`` behind the best price seen, on the tick."""
    best = order.trail_extreme or 0.0
    deviation = order.trailing_deviation or 0.0
    away = best * deviation / 100 if order.trailing_unit == "PERCENT" else deviation
    raw = best - away if order.side == "sell" else best + away
    return round_price(spec, raw, down=order.side == "sell")
