"""The local book: deltas applied exactly, every problem caught, the frame of kf.orderbook."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfresearch import frames
from kfresearch.stream.book import LiveBook
from kfresearch.stream.events import BookDelta, BookSnapshot

T0 = 1_793_491_200_000


def snapshot(seq: int = 10) -> BookSnapshot:
    return BookSnapshot("PF_XBTUSD", seq, T0, [(99.0, 1.0), (98.0, 2.0)], [(101.0, 1.5), (102.0, 3.0)])


def delta(seq: int | None, bid: bool, price: float, size: float) -> BookDelta:
    return BookDelta("PF_XBTUSD", seq, T0 + 1000 * (seq or 0), bid, price, size)


def live() -> LiveBook:
    book = LiveBook("PF_XBTUSD", env="sim")
    assert book.apply_snapshot(snapshot()) is None
    return book


def test_deltas_change_remove_and_add_levels() -> None:
    book = live()
    assert book.apply_delta(delta(11, True, 99.0, 4.0)) == "applied"
    assert book.apply_delta(delta(12, False, 101.0, 0.0)) == "applied"
    assert book.apply_delta(delta(13, True, 100.0, 0.5)) == "applied"
    bids, asks = book.levels()
    assert bids.tolist() == [[100.0, 0.5], [99.0, 4.0], [98.0, 2.0]]
    assert asks.tolist() == [[102.0, 3.0]]
    assert (book.best_bid, book.best_ask, book.mid, book.spread) == (100.0, 102.0, 101.0, 2.0)
    assert book.seq == 13
    assert book.time_ms == T0 + 13_000
    assert book.stats()["deltas"] == 3


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (delta(12, True, 97.0, 1.0), "gap"),
        (delta(11, True, 101.0, 1.0), "crossed"),  # a bid at the best ask: locked
        (delta(11, False, 98.5, 1.0), "crossed"),
        (delta(11, True, 98.0, -1.0), "negative_size"),
    ],
)
def test_problems_stop_the_book(change: BookDelta, problem: str) -> None:
    book = live()
    assert book.apply_delta(change) == problem
    assert book.status == "resyncing"
    assert book.stats()[problem] == 1
    # nothing more is applied until a fresh snapshot
    assert book.apply_delta(delta(13, True, 97.0, 1.0)) == "ignored"
    assert book.apply_snapshot(snapshot(50)) is None
    assert book.status == "live"
    assert book.seq == 50
    assert book.apply_delta(delta(51, True, 97.0, 1.0)) == "applied"


def test_old_and_repeated_seq_are_ignored_not_applied_twice() -> None:
    book = live()
    assert book.apply_delta(delta(11, True, 99.0, 4.0)) == "applied"
    assert book.apply_delta(delta(11, True, 99.0, 9.0)) == "ignored"
    assert book.apply_delta(delta(5, True, 99.0, 9.0)) == "ignored"
    assert dict(map(tuple, book.levels()[0].tolist()))[99.0] == 4.0
    assert book.stats()["ignored"] == 2


def test_a_bad_snapshot_is_a_problem_too() -> None:
    book = LiveBook("PF_XBTUSD")
    crossed = BookSnapshot("PF_XBTUSD", 1, T0, [(101.0, 1.0)], [(100.0, 1.0)])
    assert book.apply_snapshot(crossed) == "crossed"
    assert book.status == "resyncing"


def test_deltas_before_the_snapshot_wait() -> None:
    book = LiveBook("PF_XBTUSD")
    assert book.apply_delta(delta(1, True, 1.0, 1.0)) == "ignored"
    assert repr(book) == "<LiveBook PF_XBTUSD: waiting for the snapshot>"


def test_frame_is_kf_orderbooks_frame() -> None:
    book = live()
    book.apply_delta(delta(11, True, 99.0, 4.0))
    rest_body = {"result": "success", "serverTime": "2026-11-01T00:00:11.000Z",
                 "orderBook": {"bids": [[99.0, 4.0], [98.0, 2.0]],
                               "asks": [[101.0, 1.5], [102.0, 3.0]]}}
    expected = frames.orderbook(rest_body, symbol="PF_XBTUSD")
    expected.attrs["env"] = "sim"
    got = book.frame()
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs
    pd.testing.assert_frame_equal(book.frame(depth=1),
                                  frames.orderbook(rest_body, symbol="PF_XBTUSD", depth=1))


def test_empty_frame_before_the_snapshot_has_every_column() -> None:
    empty = LiveBook("PF_XBTUSD").frame()
    schema = frames.orderbook({"bids": [], "asks": []})
    assert len(empty) == 0
    assert dict(empty.dtypes) == dict(schema.dtypes)
    assert math.isnan(empty.attrs["mid"])


@st.composite
def histories(draw: Any) -> list[tuple[bool, float, float]]:
    """Random level changes that keep the book uncrossed: bids below 100, asks above."""
    steps = draw(st.integers(min_value=1, max_value=300))
    out = []
    for _ in range(steps):
        bid = draw(st.booleans())
        ticks = draw(st.integers(min_value=0, max_value=40))
        price = 99.0 - ticks * 0.5 if bid else 101.0 + ticks * 0.5
        size = draw(st.sampled_from([0.0, 0.0, 1.0, 2.5, 10.0, 0.001]))
        out.append((bid, price, size))
    return out


@settings(max_examples=60, deadline=None)
@given(histories())
def test_random_deltas_equal_a_reference_book(history: list[tuple[bool, float, float]]) -> None:
    book = live()
    truth: dict[bool, dict[float, float]] = {True: {99.0: 1.0, 98.0: 2.0},
                                              False: {101.0: 1.5, 102.0: 3.0}}
    for seq, (bid, price, size) in enumerate(history, start=11):
        assert book.apply_delta(delta(seq, bid, price, size)) == "applied"
        if size == 0.0:
            truth[bid].pop(price, None)
        else:
            truth[bid][price] = size
    bids, asks = book.levels()
    assert bids.tolist() == sorted(([p, q] for p, q in truth[True].items()), reverse=True)
    assert asks.tolist() == sorted([p, q] for p, q in truth[False].items())
    best_bid = max(truth[True], default=math.nan)
    assert book.best_bid == best_bid or (math.isnan(book.best_bid) and math.isnan(best_bid))
    frame = book.frame()
    assert np.allclose(frame.loc[frame.side == "bid", "cum_size"],
                       np.cumsum([q for _, q in sorted(truth[True].items(), reverse=True)]))
