"""Acceptance against the simulator served on loopback (real WebSocket, real sockets): books
equal the exchange's, drops and gaps are healed, orders show in order, private feeds
re-authenticate."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import pytest
from stream_helpers import Served, step, wait_until

from kfresearch.sim.faults import Fault
from kfresearch.stream import Message, Stream

SYMBOLS = ("PF_XBTUSD", "PF_ETHUSD")


def assert_books_equal_the_exchange(served: Served, stream: Stream, kf: Any, now: int) -> None:
    """The stream's books equal, at the simulated time ``now``, the exchange's own book
    (what its WebSocket serves) and ``kf.orderbook`` over HTTP, frame for frame."""
    for symbol in SYMBOLS:
        book = stream.book(symbol)
        bids, asks = served.exchange.market.book(symbol, now, 25)
        got_bids, got_asks = book.levels()
        assert got_bids.tolist() == [list(level) for level in bids], symbol
        assert got_asks.tolist() == [list(level) for level in asks], symbol
        rest = kf.orderbook(symbol, depth=25)
        frame = book.frame()
        pd.testing.assert_frame_equal(frame, rest)
        assert frame.attrs.keys() == rest.attrs.keys()


def resubscribed(stream: Stream, connects: int = 2) -> bool:
    """Connected again and every subscription live again (keys turn pending as soon as
    the new connection opens, so this cannot read the old connection's state)."""
    return stream.stats()["connects"] == connects and all(
        status == "ready" for _, _, status in stream.subscriptions
    )


def record_book_messages(stream: Stream) -> list[tuple[bool, str, int]]:
    seen: list[tuple[bool, str, int]] = []
    stream.on("book", lambda m: seen.append((m.initial, str(m.symbol), m.record["seq"])),
              initial=True)
    return seen


def assert_each_delta_once(seen: list[tuple[bool, str, int]]) -> None:
    """Per symbol, after each snapshot the applied deltas carry consecutive seq numbers:
    none applied twice, none skipped."""
    for symbol in SYMBOLS:
        seqs = [(initial, seq) for initial, sym, seq in seen if sym == symbol]
        epochs: list[list[int]] = []
        for initial, seq in seqs:
            if initial:
                epochs.append([seq])
            else:
                epochs[-1].append(seq)
        for epoch in epochs:
            assert all(b == a + 1 for a, b in itertools.pairwise(epoch)), (symbol, epoch[:5])


def test_book_equals_the_exchange_for_1000_deltas(served: Served) -> None:
    kf = served.client()
    with kf.stream() as s:
        seen = record_book_messages(s)
        s.subscribe("book", list(SYMBOLS))
        steps = 0
        while s.stats()["book_deltas"] < 1000:
            now = step(served.exchange, s)
            assert_books_equal_the_exchange(served, s, kf, now)
            steps += 1
        stats = s.stats()
    assert steps >= 3
    assert stats["book_deltas"] >= 1000
    assert (stats["resyncs"], stats["gaps"], stats["crossed"], stats["ignored_deltas"]) == (
        0, 0, 0, 0)
    assert len([m for m in seen if not m[0]]) == stats["book_deltas"]
    assert_each_delta_once(seen)


def test_a_dropped_connection_reconnects_resubscribes_and_heals(served: Served) -> None:
    kf = served.client()
    start = served.exchange.clock.now_ms()
    with kf.stream(backoff=(0.05, 0.2)) as s:
        seen = record_book_messages(s)
        s.subscribe("book", list(SYMBOLS))
        s.subscribe("trade", ["PF_XBTUSD"])
        step(served.exchange, s)
        # cut the connection in the middle of the next tick's book deltas
        served.exchange.add_fault(Fault("ws_drop", path="/ws/v1/book", after=40, count=1))
        now = served.exchange.advance(5_000)
        wait_until(lambda: resubscribed(s), what="the reconnect and the resubscriptions")
        for _ in range(3):
            now = step(served.exchange, s)
            assert_books_equal_the_exchange(served, s, kf, now)
        stats = s.stats()
        tape = s.trades("PF_XBTUSD")
    assert (stats["connects"], stats["reconnects"]) == (2, 1)
    assert stats["book_snapshots"] == 4  # one per book per connection
    assert (stats["gaps"], stats["resyncs"], stats["ignored_deltas"]) == (0, 0, 0)
    assert_each_delta_once(seen)
    # the trade snapshot after the reconnect repeats trades already held: each is kept once
    truth = served.exchange.market.trades("PF_XBTUSD", start - 3_600_000, now + 1)
    assert tape["uid"].is_unique
    expected = {served.exchange.market.trade_uid("PF_XBTUSD", int(t)) for t in truth.trade_id}
    assert set(tape["uid"]) <= expected
    assert len(tape) == len({u for u, t in zip(
        (served.exchange.market.trade_uid("PF_XBTUSD", int(i)) for i in truth.trade_id),
        truth.time_ms, strict=True) if t >= tape.index[0].value // 1_000_000})


def test_a_forced_seq_gap_costs_exactly_one_resnapshot(served: Served) -> None:
    kf = served.client()
    with kf.stream() as s:
        s.subscribe("book", list(SYMBOLS))
        step(served.exchange, s)
        served.exchange.add_fault(Fault("ws_skip", path="/ws/v1/book", after=25, count=1))
        step(served.exchange, s)
        wait_until(lambda: all(k[2] == "ready" for k in s.subscriptions), what="the resync")
        for _ in range(2):
            now = step(served.exchange, s)
            assert_books_equal_the_exchange(served, s, kf, now)
        stats = s.stats()
    assert (stats["gaps"], stats["resyncs"], stats["reconnects"]) == (1, 1, 0)
    assert stats["book_snapshots"] == 3  # two books, one of them fetched again
    assert sum(b["snapshots"] for b in stats["books"].values()) == 3
    assert sorted(b["gap"] for b in stats["books"].values()) == [0, 1]


def test_an_order_shows_in_open_orders_then_fills_and_private_feeds_reauthenticate(
    served: Served,
) -> None:
    kf = served.client()
    events: list[tuple[str, str, str]] = []

    def on_order(m: Message) -> None:
        for record in m.records:
            events.append(("open_orders", str(m.reason), record["order_id"]))
        for order_id in m.removed:
            events.append(("open_orders", str(m.reason), order_id))

    def on_fill(m: Message) -> None:
        events.extend(("fills", "fill", record["order_id"]) for record in m.records)

    def trade_once(s: Stream) -> str:
        bid = s.book("PF_XBTUSD").best_bid
        order = kf.place_order("PF_XBTUSD", "buy", 0.01, limit_price=bid)
        wait_until(lambda: order.order_id in s.open_orders().index, what="the open order")
        live, rest = s.open_orders(), kf.open_orders()
        pd.testing.assert_frame_equal(live.sort_index(), rest.sort_index(), check_like=False)
        for _ in range(30):
            step(served.exchange, s, 10_000)
            if any(e[0] == "fills" and e[2] == order.order_id for e in events):
                break
        return str(order.order_id)

    with kf.stream(backoff=(0.05, 0.2)) as s:
        s.subscribe("book", ["PF_XBTUSD"])
        s.subscribe("open_orders")
        s.subscribe("fills")
        s.on("open_orders", on_order)
        s.on("fills", on_fill)
        first = trade_once(s)
        mine = [e for e in events if e[2] == first]
        assert mine[0] == ("open_orders", "new_placed_order_by_user", first)
        assert ("fills", "fill", first) in mine
        assert mine.index(("fills", "fill", first)) > 0
        assert first not in s.open_orders().index
        assert first in set(s.fills()["order_id"])

        served.exchange.add_fault(Fault("ws_drop", path="/ws/v1/heartbeat", count=1))
        served.exchange.advance(5_000)
        wait_until(lambda: resubscribed(s), what="the reconnect and the resubscriptions")
        assert s.stats()["authentications"] == 2  # a new challenge on the new connection
        second = trade_once(s)
        again = [e for e in events if e[2] == second]
        assert again[0] == ("open_orders", "new_placed_order_by_user", second)
        assert ("fills", "fill", second) in again
        fills = s.fills()
    assert fills["order_id"].tolist().count(first) == 1  # the fills snapshot repeated it
    assert set(fills["order_id"]) >= {first, second}


def test_a_refused_subscription_raises_a_clear_error(served: Served) -> None:
    from kfresearch.errors import SubscriptionError

    kf = served.client()
    with kf.stream() as s:
        with pytest.raises(SubscriptionError, match="PF_NOSUCH") as caught:
            s.subscribe("book", ["PF_NOSUCH"])
        assert caught.value.feed == "book"
        assert caught.value.products == ("PF_NOSUCH",)
        assert "kf.instruments()" in str(caught.value)
        with pytest.raises(SubscriptionError):
            s.book("PF_NOSUCH")
        s.subscribe("book", ["PF_XBTUSD"])  # the stream goes on
        assert s.stats()["subscription_errors"] == 1
        assert isinstance(s.errors[-1], SubscriptionError)


def test_a_bad_key_fails_private_feeds_with_a_clear_error(served: Served) -> None:
    import kfresearch
    from kfresearch.errors import SubscriptionError
    from kfresearch.sim.keys import provisioned_keys

    secret = provisioned_keys()["full"].credentials.secret.reveal()
    other = kfresearch.Client("sim", base_url=served.url, key="not-a-key", secret=secret)
    with other.stream() as s, pytest.raises(SubscriptionError, match="KFRESEARCH_API_KEY"):
        s.subscribe("fills")


def test_nothing_to_connect_to_is_a_clear_error_not_a_hang() -> None:
    import socket

    import kfresearch
    from kfresearch.errors import StreamError

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kf = kfresearch.Client("sim", base_url=f"http://127.0.0.1:{port}")
    with kf.stream(backoff=(0.02, 0.1), timeout=1.0) as s:
        with pytest.raises(StreamError, match=f"127.0.0.1:{port}") as caught:
            s.subscribe("book", "PF_XBTUSD")
        assert "last error" in str(caught.value)
        assert s.stats()["connect_failures"] >= 3  # it kept trying, backing off
        assert s.status in {"connecting", "reconnecting"}


def test_a_silent_connection_is_replaced(served: Served) -> None:
    kf = served.client()
    # the exchange's clock stands still, so after the snapshots nothing more comes
    with kf.stream(stale_after=0.3, backoff=(0.02, 0.05)) as s:
        s.subscribe("book", ["PF_XBTUSD"])
        wait_until(lambda: s.stats()["stale_disconnects"] >= 1, what="the watchdog")
        wait_until(lambda: resubscribed(s, connects=s.stats()["connects"]) and
                   s.stats()["connects"] >= 2, what="the new connection")
        now = served.exchange.clock.now_ms()  # it stands still: every snapshot is this book
        bids, _ = served.exchange.market.book("PF_XBTUSD", now, 25)
        assert s.book("PF_XBTUSD").levels()[0].tolist() == [list(b) for b in bids]
