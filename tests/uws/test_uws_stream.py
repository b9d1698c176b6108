"""The stream on the Unified WebSocket (in-process simulator): corrupted books repaired by
resubscribing and given up plainly after 5 failures in a row, tokens fetched again after
``EAPI:Invalid token``, no reconnect after close code 1008 or a 4xx upgrade answer, and
subscriptions replayed after a dropped connection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import StreamError
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.stream import Stream
from kfresearch.stream import book as book_module
from kfresearch.stream.events import BookLevels

SYMBOL = "PF_XBTUSD"
NOW = "2026-11-01T00:00:00Z"


@pytest.fixture
def ex() -> SimExchange:
    return SimExchange(seed=5, clock=SimClock.fixed(NOW))


@pytest.fixture
def ukf(ex: SimExchange) -> Iterator[kfresearch.Client]:
    client = kfresearch.Client("sim", exchange=ex, protocol="uws", limiter=RateLimiter.unlimited())
    yield client
    client.close()


@pytest.fixture
def s(ukf: kfresearch.Client) -> Iterator[Stream]:
    stream = ukf.stream(backoff=(0.01, 0.05))
    yield stream
    stream.close()


def advance(ex: SimExchange, s: Stream, ms: int = 1_000) -> None:
    ex.advance(ms)
    s.sync()


def test_the_book_is_kf_orderbook_at_every_step(ukf: kfresearch.Client, ex: SimExchange,
                                                s: Stream) -> None:
    s.subscribe("book", SYMBOL)
    for _ in range(5):
        pd.testing.assert_frame_equal(s.book(SYMBOL).frame(), ukf.orderbook(SYMBOL, depth=25))
        advance(ex, s)
    stats = s.stats()
    assert stats["book_deltas"] > 0
    assert stats["checksum_mismatches"] == 0


def test_a_corrupted_update_is_detected_and_repaired_by_resubscribing(
    ukf: kfresearch.Client, ex: SimExchange, s: Stream
) -> None:
    s.subscribe("book", SYMBOL)
    advance(ex, s)
    ex.add_fault(Fault("ws_corrupt", path="/v2/public/book", count=1))
    for _ in range(4):
        advance(ex, s)
    stats = s.stats()
    assert stats["checksum_mismatches"] == 1
    assert stats["resyncs"] == 1
    assert stats["books"][SYMBOL]["checksum"] == 1
    pd.testing.assert_frame_equal(s.book(SYMBOL).frame(), ukf.orderbook(SYMBOL, depth=25))


def test_after_5_failures_in_a_row_the_user_is_told_and_never_shown_a_wrong_book(
    ex: SimExchange, s: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    s.subscribe("book", SYMBOL)
    advance(ex, s)
    # from now on the client's book never agrees with the exchange's checksums, snapshots
    # included: every fresh snapshot fails too
    real = book_module.book_checksum
    monkeypatch.setattr(book_module, "book_checksum", lambda asks, bids: real(asks, bids) ^ 1)
    for _ in range(8):
        with contextlib.suppress(StreamError):
            advance(ex, s)
    assert s.stats()["checksum_mismatches"] == 5
    assert any("5 times in a row" in str(e) for e in s.errors)
    with pytest.raises(StreamError, match="5 times in a row"):
        s.book(SYMBOL).frame()
    [status] = [status for feed, _, status in s.subscriptions if feed == "book"]
    assert status == "failed"


def test_an_invalid_token_is_replaced_and_the_subscription_goes_through(
    ukf: kfresearch.Client, ex: SimExchange, s: Stream
) -> None:
    ex.add_fault(Fault("ws_bad_token", path="/v2/private/executions", count=1))
    s.subscribe("open_orders")
    ukf.place_order(SYMBOL, "buy", 0.001, limit_price=50_000, client_order_id="t-1")
    advance(ex, s)
    assert s.open_orders()["cli_ord_id"].tolist() == ["t-1"]
    assert s.stats()["auth_refusals"] == 1
    assert s.stats()["authentications"] == 2  # the refused token, then a fresh one


def test_close_code_1008_is_terminal(ex: SimExchange, s: Stream) -> None:
    s.subscribe("book", SYMBOL)
    ex.add_fault(Fault("ws_close", path="/v2/public/book", count=1, code=1008))
    ex.advance(1_000)
    with pytest.raises(StreamError, match="1008"):
        s.sync()
    assert s.stats()["connects"] == 1
    assert s.stats()["reconnects"] == 0


def test_a_4xx_upgrade_answer_is_terminal(ex: SimExchange, s: Stream) -> None:
    ex.add_fault(Fault("ws_refuse", path="/v2/public", status=401))
    with pytest.raises(StreamError, match="HTTP 401"):
        s.subscribe("book", SYMBOL)
    assert s.stats()["connect_failures"] == 1


def test_a_dropped_connection_is_reopened_and_subscriptions_replayed(
    ukf: kfresearch.Client, ex: SimExchange, s: Stream
) -> None:
    s.subscribe("book", SYMBOL)
    s.subscribe("open_orders")
    ukf.place_order(SYMBOL, "buy", 0.001, limit_price=50_000, client_order_id="d-1")
    advance(ex, s)
    ex.add_fault(Fault("ws_drop", path="/v2/public/book", count=1))
    for _ in range(4):
        advance(ex, s)
    stats = s.stats()
    assert stats["reconnects"] >= 1
    assert all(status == "ready" for _, _, status in s.subscriptions)
    pd.testing.assert_frame_equal(s.book(SYMBOL).frame(), ukf.orderbook(SYMBOL, depth=25))
    assert s.open_orders()["cli_ord_id"].tolist() == ["d-1"]
    assert len(ukf.open_orders()) == 1  # nothing was sent twice


@pytest.mark.slow
def test_thousands_of_simulator_updates_pass_the_plain_checksum(
    ukf: kfresearch.Client, ex: SimExchange, s: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's books, checked by the plainly written implementation of the rule
    (test_uws_book.py) instead of kfresearch.checksum, over the simulator's own updates."""
    from test_uws_book import plain_checksum

    def plain(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
        return plain_checksum({Decimal(p): (p, q) for p, q in asks},
                              {Decimal(p): (p, q) for p, q in bids})

    monkeypatch.setattr(book_module, "book_checksum", plain)
    levels = [0]
    apply = book_module.LiveBook.apply_levels

    def counted(book: book_module.LiveBook, event: BookLevels) -> str:
        levels[0] += len(event.bids) + len(event.asks)
        return apply(book, event)

    monkeypatch.setattr(book_module.LiveBook, "apply_levels", counted)
    symbols = ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PF_XRPUSD", "PI_XBTUSD"]
    s.subscribe("book", symbols)
    for _ in range(120):
        advance(ex, s, 1_000)
    stats = s.stats()
    assert stats["book_deltas"] >= 500
    assert levels[0] >= 3_000  # price levels changed, each checked in the top-10 checksum
    assert stats["checksum_mismatches"] == 0
    assert stats["unknown_messages"] == 0
    for symbol in symbols:
        pd.testing.assert_frame_equal(s.book(symbol).frame(), ukf.orderbook(symbol, depth=25))


def test_every_simulator_message_of_every_feed_parses(
    ukf: kfresearch.Client, ex: SimExchange, s: Stream
) -> None:
    for feed in ("open_orders", "fills", "open_positions", "balances"):
        s.subscribe(feed)
    s.subscribe("ticker", [SYMBOL])
    s.subscribe("trade", [SYMBOL])
    ukf.place_order(SYMBOL, "buy", 0.01, "mkt")
    ukf.place_order(SYMBOL, "buy", 0.01, limit_price=50_000)
    for _ in range(5):
        advance(ex, s, 2_000)
    stats = s.stats()
    assert stats["messages"] > 20
    assert stats["unknown_messages"] == 0
    assert stats["unexpected_messages"] == 0
    columns = ["side", "size"]
    pd.testing.assert_frame_equal(s.positions()[columns], ukf.positions()[columns])
    assert len(s.fills()) == len(ukf.fills())
