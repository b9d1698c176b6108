"""Queue position of resting limit orders on a source that models queues (``demo``).

The engine runs on a scripted source: the synthetic market for everything
but the book (fixed levels, so the size ahead of an order is known) and the
trades (written by the test, so the volume at and through a price is known).
Rule under test (issue 13): a resting limit fills on a trade strictly through
its price, or on volume traded AT its price beyond its place in the queue
(``queue_ahead`` = the book's size at its price when it rested), and not
before; an edit that changes the price or increases the size goes to the back
of the queue at the (new) price, one that reduces the size keeps its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import kfresearch
from kfresearch.sim.clock import SimClock, parse_time_ms
from kfresearch.sim.engine import Engine
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.market import SyntheticMarket
from kfresearch.sim.orders import Order
from kfresearch.sim.source import Level, Trades

NOW = "2026-11-01T00:00:00Z"
T0 = parse_time_ms(NOW)
SYMBOL = "PF_XBTUSD"
AHEAD = 0.25  # the book's size at the order's price when it rests
FURTHER = 4.0  # the book's size at the price an edit moves the order to


@dataclass
class _Tape:
    rows: list[tuple[int, float, float]] = field(default_factory=list)


class ScriptedQueue(SyntheticMarket):
    """The synthetic market with a fixed book around ``limit`` and scripted trades."""

    models_queue = True

    def __init__(self, side: str) -> None:
        super().__init__(42)
        mark = self.mark_price(SYMBOL, T0)
        self.side = side
        # ten ticks away from the mark on the passive side, whole dollars
        self.limit = float(round(mark)) + (-10.0 if side == "buy" else 10.0)
        self.further = self.limit + (-5.0 if side == "buy" else 5.0)
        near = self.limit + (5.0 if side == "buy" else -5.0)
        ours = [(near, 1.0), (self.limit, AHEAD), (self.further, FURTHER)]
        other = [(float(round(mark)) + (20.0 if side == "buy" else -20.0), 1.0)]
        self.levels: tuple[list[Level], list[Level]] = (
            (ours, other) if side == "buy" else (other, ours)
        )
        self.tape = _Tape()

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        return self.levels[0][:depth], self.levels[1][:depth]

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> Trades:
        rows = [r for r in self.tape.rows if start_ms <= r[0] < end_ms]
        if not rows:
            return Trades.empty()
        t, price, size = zip(*rows, strict=True)
        return Trades(
            np.array(t, np.int64),
            np.array(price, np.float64),
            np.array(size, np.float64),
            np.ones(len(rows), bool),
            np.arange(1, len(rows) + 1, dtype=np.int64),
        )

    def trade(self, seconds: int, price: float, size: float) -> None:
        """A public trade ``seconds`` after T0."""
        self.tape.rows.append((T0 + seconds * 1_000, price, size))

    def away(self, ticks: float) -> float:
        """A price ``ticks`` dollars from the limit, through it when positive."""
        return self.limit + (-ticks if self.side == "buy" else ticks)


@dataclass
class Setup:
    source: ScriptedQueue
    exchange: SimExchange
    kf: kfresearch.Client

    def order(self, order_id: str | None) -> Order:
        (acc,) = self.exchange.engine.ledger.accounts.values()
        order: Order = acc.orders[str(order_id)]
        return order

    def minute(self) -> None:
        self.exchange.advance("1m")

    def filled(self) -> list[tuple[float, float, str]]:
        fills = self.kf.fills().sort_index()
        return list(zip(fills["size"], fills["price"], fills["fill_type"], strict=True))


def _setup(side: str) -> Setup:
    source = ScriptedQueue(side)
    exchange = SimExchange(
        seed=42, clock=SimClock.fixed(NOW), market=source, engine=Engine(source, seed=42)
    )
    return Setup(source, exchange, kfresearch.connect("sim", exchange=exchange))


@pytest.fixture(params=["buy", "sell"])
def setup(request: pytest.FixtureRequest) -> Setup:
    return _setup(request.param)


def test_volume_at_the_price_fills_only_beyond_the_order_s_place(setup: Setup) -> None:
    src, kf = setup.source, setup.kf
    placed = kf.place_order(SYMBOL, src.side, 0.1, order_type="lmt", limit_price=src.limit)
    assert setup.order(placed.order_id).queue_ahead == AHEAD
    src.trade(10, src.limit, 0.1)
    src.trade(20, src.away(-5.0), 3.0)  # on the other side of the price: no queue moves
    setup.minute()
    assert setup.order(placed.order_id).queue_ahead == pytest.approx(0.15)
    assert setup.filled() == []
    src.trade(70, src.limit, 0.15)  # exactly the place: still nothing left for us
    setup.minute()
    assert setup.order(placed.order_id).queue_ahead == pytest.approx(0.0)
    assert setup.filled() == []
    assert placed.order_id in kf.open_orders().index
    src.trade(130, src.limit, 0.06)  # everything beyond the place is ours
    setup.minute()
    assert setup.filled() == [(pytest.approx(0.06), src.limit, "maker")]
    src.trade(190, src.limit, 0.5)  # more than the rest: the rest fills, no more
    setup.minute()
    assert [f[0] for f in setup.filled()] == pytest.approx([0.06, 0.04])
    assert placed.order_id not in kf.open_orders().index
    assert kf.positions().loc[SYMBOL, "size"] == pytest.approx(0.1 if src.side == "buy" else -0.1)


def test_a_trade_strictly_through_the_price_fills_the_whole_order(setup: Setup) -> None:
    src, kf = setup.source, setup.kf
    placed = kf.place_order(SYMBOL, src.side, 0.1, order_type="lmt", limit_price=src.limit)
    src.trade(10, src.limit, AHEAD / 2)  # at the price, inside the queue
    setup.minute()
    assert setup.filled() == []
    src.trade(70, src.away(1.0), 0.0001)  # one dollar through, however small
    setup.minute()
    assert setup.filled() == [(0.1, src.limit, "maker")]
    assert placed.order_id not in kf.open_orders().index


def test_an_edit_of_price_or_a_larger_size_loses_the_place_a_smaller_size_keeps_it(
    setup: Setup,
) -> None:
    src, kf = setup.source, setup.kf
    placed = kf.place_order(SYMBOL, src.side, 0.1, order_type="lmt", limit_price=src.limit)
    oid = placed.order_id
    src.trade(10, src.limit, 0.2)
    setup.minute()
    assert setup.order(oid).queue_ahead == pytest.approx(0.05)
    kf.edit_order(oid, size=0.08)  # smaller: keeps its place
    assert setup.order(oid).queue_ahead == pytest.approx(0.05)
    kf.edit_order(oid, size=0.12)  # larger: back of the queue at its price
    assert setup.order(oid).queue_ahead == AHEAD
    src.trade(70, src.limit, 0.2)
    setup.minute()
    assert setup.order(oid).queue_ahead == pytest.approx(0.05)
    kf.edit_order(oid, limit_price=src.further)  # new price: behind what the book shows there
    assert setup.order(oid).queue_ahead == FURTHER
    # volume at the new price that the old place would have got through fills nothing
    src.trade(130, src.further, 1.0)
    setup.minute()
    assert setup.filled() == []
    assert setup.order(oid).queue_ahead == pytest.approx(FURTHER - 1.0)
    kf.edit_order(oid, limit_price=src.limit)  # and back: the old place is not restored
    assert setup.order(oid).queue_ahead == AHEAD


def test_the_synthetic_market_keeps_its_touch_rule() -> None:
    """sim's answers do not change: a trade AT the price fills the whole order there."""
    kf = kfresearch.connect("sim")
    market = kf.sim.market
    t = kf.sim.clock.now_ms()
    trades = market.trades(SYMBOL, t + 1, t + 600_001)
    bid = float(kf.tickers().loc[SYMBOL, "bid"])
    low = float(trades.price.min())
    assert low < bid
    placed = kf.place_order(SYMBOL, "buy", 0.1, order_type="lmt", limit_price=low)
    kf.sim.advance("10m")
    assert placed.order_id not in kf.open_orders().index
    assert list(kf.fills()["size"]) == [0.1]
    assert getattr(market, "models_queue", False) is False
