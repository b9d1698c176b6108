"""The engine's open-order index (OpenBook) always gives what a scan of the open orders gives,
so an order's checks cost the same however many orders rest."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from kfresearch.sim.accounts import Account
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.keys import SIM_ACCOUNT_ID
from kfresearch.sim.openbook import OpenBook
from kfresearch.sim.orders import EditRequest, Order, OrderRequest

SYMBOLS = ("PF_XBTUSD", "PF_ETHUSD")


def scanned_sizes(acc: Account, symbol: str, extra: Order | None) -> tuple[float, float]:
    """The open sizes by a scan of every open order: what the engine computed before."""
    resting = [o for o in acc.open_orders.values() if o.symbol == symbol]
    if extra is not None and extra.symbol == symbol:
        resting = [o for o in resting if o.order_id != extra.order_id] + [extra]
    counted = [o for o in resting if not o.is_trigger and not o.reduce_only]
    return (
        math.fsum(o.unfilled for o in counted if o.side == "buy"),
        math.fsum(o.unfilled for o in counted if o.side == "sell"),
    )


def scanned_cross(acc: Account, order: Order, reach: float) -> bool:
    return any(
        other.order_id != order.order_id
        and other.symbol == order.symbol
        and other.side != order.side
        and not other.is_trigger
        and other.limit_price is not None
        and order.sign * (reach - other.limit_price) >= 0
        for other in acc.open_orders.values()
    )


def assert_agrees(acc: Account, rng: random.Random, marks: dict[str, float]) -> None:
    assert acc.active_symbols() == set(acc.positions) | {o.symbol for o in acc.open_orders.values()}
    probes = [*acc.open_orders.values()][:3]
    for symbol in SYMBOLS:
        for side in ("buy", "sell"):
            price = round(marks[symbol] * rng.uniform(0.95, 1.05))
            probe = Order(
                "probe",
                SIM_ACCOUNT_ID,
                symbol,
                side,
                "lmt",
                0.01,
                price,
                None,
                None,
                False,
                None,
                0,
                0,
            )
            probes.append(probe)
        assert acc.book.open_sizes(symbol) == scanned_sizes(acc, symbol, None)
        for side, best in (("buy", max), ("sell", min)):
            resting = [
                o.limit_price
                for o in acc.open_orders.values()
                if o.symbol == symbol and o.side == side and not o.is_trigger
                if o.limit_price is not None
            ]
            assert acc.book.best(symbol, side) == (best(resting) if resting else None)
    assert acc.book.waiting == sum(o.is_trigger for o in acc.open_orders.values())
    assert dict(acc.book.symbol_counts) == {
        s: sum(o.symbol == s for o in acc.open_orders.values())
        for s in {o.symbol for o in acc.open_orders.values()}
    }
    for probe in probes:
        assert acc.book.open_sizes(probe.symbol, probe) == scanned_sizes(acc, probe.symbol, probe)
        for reach in (probe.limit_price or marks[probe.symbol], marks[probe.symbol]):
            assert acc.book.crosses(probe, reach) == scanned_cross(acc, probe, reach)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_index_agrees_with_a_scan_through_a_busy_session(seed: int) -> None:
    """Limit, post, reduce-only and stop orders are placed, edited, filled, triggered and
    cancelled at random while the market moves; after every step the index's answers equal
    a scan of the open orders."""
    rng = random.Random(seed)
    ex = SimExchange(seed=seed, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    engine = ex.engine
    now = ex.clock.now_ms()
    acc = engine.account(SIM_ACCOUNT_ID, now)
    marks = {s: engine.prices.mark(s, now) for s in SYMBOLS}
    for _ in range(160):
        now = ex.clock.now_ms()
        symbol = rng.choice(SYMBOLS)
        mark = engine.prices.mark(symbol, now)
        marks[symbol] = mark
        size = 0.001 if symbol == "PF_XBTUSD" else 0.01
        roll = rng.random()
        if roll < 0.5:
            side = rng.choice(("buy", "sell"))
            kind = rng.choice(("lmt", "lmt", "post", "stp"))
            away = rng.uniform(-0.004, 0.01)  # some cross the spread and fill
            price = round(mark * (1 - away if side == "buy" else 1 + away))
            stop = round(mark * (0.999 if side == "sell" else 1.001)) if kind == "stp" else None
            engine.send_order(
                SIM_ACCOUNT_ID,
                OrderRequest(
                    kind,
                    symbol,
                    side,
                    size * rng.randint(1, 5),
                    price,
                    stop,
                    reduce_only=rng.random() < 0.15,
                ),
                now,
            )
        elif roll < 0.7 and acc.open_orders:
            order = rng.choice([*acc.open_orders.values()])
            engine.edit_order(
                SIM_ACCOUNT_ID,
                EditRequest(
                    order.order_id,
                    size=size * rng.randint(1, 6),
                    limit_price=round(mark * rng.uniform(0.99, 1.003))
                    if order.limit_price is not None
                    else None,
                ),
                now,
            )
        elif roll < 0.8 and acc.open_orders:
            order = rng.choice([*acc.open_orders.values()])
            engine.cancel_order(SIM_ACCOUNT_ID, order.order_id, None, now)
        else:
            ex.advance(f"{rng.randint(1, 120)}s")  # resting orders fill, stops trigger
        assert_agrees(acc, rng, marks)
    assert len(acc.fills) > 5  # the session did fill orders
    assert any(o.triggered for o in acc.orders.values())  # and triggered stops


def test_orders_off_the_book_no_longer_report() -> None:
    book = OpenBook()
    order = Order("a", "acc", "PF_XBTUSD", "buy", "lmt", 1.0, 100.0, None, None, False, None, 0, 0)
    book.add(order)
    assert book.open_sizes("PF_XBTUSD") == (1.0, 0.0)
    book.remove(order)
    order.filled = 0.5  # no longer booked: nothing to update
    assert book.open_sizes("PF_XBTUSD") == (0.0, 0.0)
    assert book.symbols() == set()
    assert "_book" not in order.__dict__


def test_the_price_heap_stays_small_when_orders_change_often() -> None:
    book = OpenBook()
    order = Order("a", "acc", "PF_XBTUSD", "sell", "lmt", 1.0, 100.0, None, None, False, None, 0, 0)
    book.add(order)
    for i in range(1000):
        order.limit_price = 100.0 + i
    assert len(book._prices["PF_XBTUSD", "sell"]) <= 2 * 1 + 64 + 1
    probe = Order("b", "acc", "PF_XBTUSD", "buy", "lmt", 1.0, 1100.0, None, None, False, None, 0, 0)
    assert book.crosses(probe, 1099.0)
    assert not book.crosses(probe, 1098.0)


def test_open_orders_read_back_from_a_paper_ledger_are_indexed(tmp_path: Path) -> None:
    """A paper account reopened from its SQLite file counts its resting orders again."""
    from kfresearch.sim.engine import Engine
    from kfresearch.sim.market import SyntheticMarket
    from kfresearch.sim.sqlite_ledger import SqliteLedger

    path = tmp_path / "paper.sqlite"
    market = SyntheticMarket(42)
    ledger = SqliteLedger(path, balance=50_000.0)
    ex = SimExchange(market=market, engine=Engine(market, seed=42, ledger=ledger))
    now = ex.clock.now_ms()
    account_id = SIM_ACCOUNT_ID
    mark = ex.engine.prices.mark("PF_XBTUSD", now)
    for i in range(3):
        ex.engine.send_order(
            account_id, OrderRequest("lmt", "PF_XBTUSD", "buy", 0.01, round(mark * 0.97) - i), now
        )
    ledger.close()
    reopened = SqliteLedger(path)
    try:
        (acc,) = reopened.accounts.values()
        assert len(acc.open_orders) == 3
        assert acc.book.open_sizes("PF_XBTUSD") == scanned_sizes(acc, "PF_XBTUSD", None)
        assert acc.active_symbols() == {"PF_XBTUSD"}
    finally:
        reopened.close()
