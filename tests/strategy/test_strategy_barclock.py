"""How the stream-driven run closes bars (kfresearch.strategy.barclock.BarClock), message by
message: heartbeats close bars in order and once, trades seen twice count once, a
resubscription that does not reach back sends the bars over the hole to REST, and a
heartbeat without the exchange's time (the Unified WebSocket's) stands for now less lag."""

from __future__ import annotations

from typing import Any

from kfresearch.strategy.barclock import BarClock
from kfresearch.strategy.events import Bar
from kfresearch.stream import Message

SYMBOL = "PF_XBTUSD"
MIN = 60_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


class FakeStream:
    """What the clock reads of a stream: the subscriptions' status."""

    def __init__(self) -> None:
        self.status = "ready"

    @property
    def subscriptions(self) -> list[tuple[str, str | None, str]]:
        return [("heartbeat", None, "ready"), ("trade", SYMBOL, self.status)]


def trades(*rows: tuple[int, float, str], initial: bool = False) -> Message:
    records = tuple({"time": t, "price": p, "size": 1.0, "side": "buy", "uid": uid}
                    for t, p, uid in rows)
    return Message("trade", SYMBOL, initial, records)


def beat(t: int | None) -> Message:
    return Message("heartbeat", None, False, (), time_ms=t)


def closed(clock: BarClock) -> list[tuple[int, Any]]:
    out = []
    while not clock.steps.empty():
        step = clock.steps.get()
        out.append((step.end, step.bars[SYMBOL]))  # type: ignore[union-attr]
    return out


def make(now: int = T0) -> tuple[BarClock, FakeStream]:
    stream = FakeStream()
    clock = BarClock(stream, (SYMBOL,), MIN, T0 + MIN, books=False,  # type: ignore[arg-type]
                     now_ms=lambda: now, lag_ms=2_000)
    return clock, stream


def test_heartbeats_close_bars_in_order_once_from_the_streamed_trades() -> None:
    clock, _ = make()
    clock.on_trade(trades((T0 - 5_000, 99.0, "a"), initial=True))  # reaches before the bar
    clock.on_trade(trades((T0 + 1_000, 100.0, "b"), (T0 + 2_000, 102.0, "c")))
    clock.on_trade(trades((T0 + 2_000, 102.0, "c")))  # seen twice
    clock.on_trade(trades((T0 + MIN, 103.0, "d")))  # at the close: the next bar's
    clock.on_heartbeat(beat(T0 + MIN - 1))
    assert closed(clock) == []
    clock.on_heartbeat(beat(T0 + 3 * MIN))  # late: both bars close, in order
    assert closed(clock) == [
        (T0 + MIN, Bar(SYMBOL, T0, T0 + MIN, 100.0, 102.0, 100.0, 102.0, 2.0)),
        (T0 + 2 * MIN, Bar(SYMBOL, T0 + MIN, T0 + 2 * MIN, 103.0, 103.0, 103.0, 103.0, 1.0)),
        (T0 + 3 * MIN, None),  # no trade: no bar
    ]
    clock.on_heartbeat(beat(T0 + 3 * MIN))
    assert closed(clock) == []


def test_a_resubscription_that_does_not_reach_back_sends_the_hole_to_rest() -> None:
    clock, stream = make()
    clock.on_trade(trades((T0 - 5_000, 99.0, "a"), initial=True))
    clock.on_heartbeat(beat(T0 + 10_000))
    stream.status = "pending"  # reconnecting: heartbeats do not close bars meanwhile
    clock.on_heartbeat(beat(T0 + 5 * MIN))
    assert closed(clock) == []
    stream.status = "ready"
    # the snapshot's oldest trade is after the last time seen: a hole before it
    clock.on_trade(trades((T0 + 2 * MIN + 30_000, 101.0, "x"), (T0 + 3 * MIN + 1, 104.0, "y"),
                          initial=True))
    clock.on_heartbeat(beat(T0 + 4 * MIN))
    assert closed(clock) == [(T0 + MIN, "rest"), (T0 + 2 * MIN, "rest"), (T0 + 3 * MIN, "rest"),
                             (T0 + 4 * MIN, Bar(SYMBOL, T0 + 3 * MIN, T0 + 4 * MIN, 104.0, 104.0,
                                                104.0, 104.0, 1.0))]
    assert clock.gaps == 1


def test_a_resubscription_that_reaches_back_keeps_the_tape_whole() -> None:
    clock, _ = make()
    clock.on_trade(trades((T0 - 5_000, 99.0, "a"), initial=True))
    clock.on_trade(trades((T0 + 1_000, 100.0, "b")))
    clock.on_heartbeat(beat(T0 + 10_000))
    clock.on_trade(trades((T0 + 1_000, 100.0, "b"), (T0 + 20_000, 101.0, "c"), initial=True))
    clock.on_heartbeat(beat(T0 + MIN))
    assert closed(clock) == [(T0 + MIN, Bar(SYMBOL, T0, T0 + MIN, 100.0, 101.0, 100.0, 101.0,
                                            2.0))]
    assert clock.gaps == 0


def test_a_heartbeat_without_time_stands_for_now_less_lag() -> None:
    clock, _ = make(now=T0 + MIN + 1_000)  # one second after the close: within the lag
    clock.on_trade(trades((T0 - 5_000, 99.0, "a"), initial=True))
    clock.on_heartbeat(beat(None))
    assert closed(clock) == []
    clock.now_ms = lambda: T0 + MIN + 2_000
    clock.on_heartbeat(beat(None))
    assert closed(clock) == [(T0 + MIN, None)]
